// SPDX-License-Identifier: Apache-2.0
//
// gf_uart_tx: UART transmitter, 8 data bits, no parity, 1 stop bit, LSB first.
//
// A byte is taken on s_valid && s_ready and sent as a start bit, the data
// bits and a stop bit, CLKS_PER_BIT clocks each; s_ready is high again one
// clock after the stop bit's full period. `tx` comes straight from a flop
// (the low bit of the shift register, which idles and resets to all ones), so
// the pin never glitches.

`default_nettype none

module gf_uart_tx #(
    parameter int CLKS_PER_BIT = 104
) (
    input  wire logic       clk,
    input  wire logic       rst,
    input  wire logic       s_valid,
    output      logic       s_ready,
    input  wire logic [7:0] s_data,
    output      logic       tx
);

  if (CLKS_PER_BIT < 2) begin : g_bad_rate
    $fatal(1, "gf_uart_tx: CLKS_PER_BIT must be at least 2");
  end

  localparam int CW = $clog2(CLKS_PER_BIT);
  localparam logic [CW-1:0] BitLast = CW'(CLKS_PER_BIT - 1);

  // stop, data[7:0], start; shifted out from bit 0. Powers up idle (high), so
  // the line does not glitch before the first reset.
  /* verilator lint_off PROCASSINIT */
  logic [   9:0] shreg = '1;
  /* verilator lint_on PROCASSINIT */
  logic          busy;
  logic [CW-1:0] cnt;
  logic [   3:0] bitn;  // bit on the line: 0 start .. 9 stop

  assign tx      = shreg[0];
  assign s_ready = !busy;

  always_ff @(posedge clk) begin
    if (rst) begin
      shreg <= '1;
      busy  <= 1'b0;
    end else if (!busy) begin
      if (s_valid) begin
        shreg <= {1'b1, s_data, 1'b0};
        busy  <= 1'b1;
        cnt   <= BitLast;
        bitn  <= '0;
      end
    end else if (cnt != '0) begin
      cnt <= cnt - 1'b1;
    end else begin
      cnt   <= BitLast;
      bitn  <= bitn + 1'b1;
      shreg <= {1'b1, shreg[9:1]};
      if (bitn == 4'd9) busy <= 1'b0;
    end
  end

endmodule

`default_nettype wire
