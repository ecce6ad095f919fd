// SPDX-License-Identifier: Apache-2.0
//
// gf_skid_buffer: a 2-entry AXI-Stream register slice (skid buffer).
//
// Every output is driven from a flop: m_axis_tvalid/m_axis_tdata come from the
// output register and s_axis_tready is the inverse of the skid register's
// valid bit, so there is no combinational path from m_axis_tready to
// s_axis_tready or from the s_axis_* inputs to the m_axis_* outputs.
// Full throughput (one transfer per clock while the sink is ready) and a
// latency of exactly one cycle from an input handshake to m_axis_tvalid.
//
// While the output register holds a beat that the sink does not take, one more
// beat may be accepted into the skid register; s_axis_tready then drops on the
// next clock. Synchronous active-high reset; data registers are not reset.

`default_nettype none

module gf_skid_buffer #(
    parameter int WIDTH = 8
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic             s_axis_tvalid,
    output      logic             s_axis_tready,
    input  wire logic [WIDTH-1:0] s_axis_tdata,

    output      logic             m_axis_tvalid,
    input  wire logic             m_axis_tready,
    output      logic [WIDTH-1:0] m_axis_tdata
);

  logic             out_valid_q;
  logic [WIDTH-1:0] out_data_q;
  logic             skid_valid_q;
  logic [WIDTH-1:0] skid_data_q;

  // The output register may load when it is empty or its beat leaves now.
  logic out_load;
  logic s_fire;

  assign s_axis_tready = !skid_valid_q;
  assign m_axis_tvalid = out_valid_q;
  assign m_axis_tdata  = out_data_q;

  assign out_load = m_axis_tready || !out_valid_q;
  assign s_fire   = s_axis_tvalid && !skid_valid_q;

  always_ff @(posedge clk) begin
    if (rst) begin
      out_valid_q  <= 1'b0;
      skid_valid_q <= 1'b0;
    end else if (out_load) begin
      // Drain the skid register first; it is only full while s_axis_tready is low.
      out_valid_q  <= skid_valid_q || s_axis_tvalid;
      skid_valid_q <= 1'b0;
    end else if (s_fire) begin
      skid_valid_q <= 1'b1;
    end
  end

  always_ff @(posedge clk) begin
    if (out_load) begin
      if (skid_valid_q) begin
        out_data_q <= skid_data_q;
      end else if (s_axis_tvalid) begin
        out_data_q <= s_axis_tdata;
      end
    end else if (s_fire) begin
      skid_data_q <= s_axis_tdata;
    end
  end

endmodule

`default_nettype wire
