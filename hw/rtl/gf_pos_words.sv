// SPDX-License-Identifier: Apache-2.0
//
// gf_pos_words: a stream of C-bit positions as a stream of 16-bit words, for the
// time-multiplexed engine's sequential tail (docs/seq.md).
//
// Each position becomes P = ceil(C/16) words, its bits 16*i .. 16*i+15 in word i (the
// last word zero-padded above bit C). With P = 1 this is a wire. Otherwise the position
// is held and shifted out a word per clock; s_ready is high when nothing is held, or
// when the last word leaves in this clock (a new position every P clocks at most).

`default_nettype none

module gf_pos_words #(
    parameter int C = 16
) (
    input  wire logic         clk,
    input  wire logic         rst,
    input  wire logic         s_valid,
    output      logic         s_ready,
    input  wire logic [C-1:0] s_data,
    output      logic         m_valid,
    input  wire logic         m_ready,
    output      logic [ 15:0] m_data
);

  localparam int P = (C + 15) / 16;

  if (C < 1) begin : g_bad_size
    $fatal(1, "gf_pos_words: C must be at least 1");
  end

  if (P == 1) begin : g_wire
    assign m_valid = s_valid;
    assign s_ready = m_ready;
    assign m_data  = 16'(s_data);
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused = clk ^ rst;
    /* verilator lint_on UNUSEDSIGNAL */
  end else begin : g_split
    localparam int IW = $clog2(P);
    logic [P*16-1:0] hold;
    logic busy;
    logic [IW-1:0] idx;
    wire last = idx == IW'(P - 1);
    assign m_valid = busy;
    assign m_data  = hold[15:0];
    assign s_ready = !busy || (last && m_ready);
    always_ff @(posedge clk) begin
      if (rst) begin
        busy <= 1'b0;
      end else if (s_valid && s_ready) begin
        hold <= (P * 16)'(s_data);
        busy <= 1'b1;
        idx  <= '0;
      end else if (busy && m_ready) begin
        hold <= hold >> 16;
        idx  <= idx + 1'b1;
        if (last) busy <= 1'b0;
      end
    end
  end

endmodule

`default_nettype wire
