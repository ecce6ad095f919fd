// SPDX-License-Identifier: Apache-2.0
//
// gf_uart_rx: UART receiver, 8 data bits, no parity, 1 stop bit, LSB first.
//
// `rx` passes a two-flop synchroniser (both flops start high, the idle level).
// A low level in IDLE starts a byte; half a bit period later the start bit
// must still be low (otherwise it was a glitch and the receiver goes back to
// IDLE). From there every bit, the stop bit included, is sampled in its
// middle, CLKS_PER_BIT clocks apart. At the middle of the stop bit `valid`
// pulses for one clock with the byte on `data` and `frame_err` set when the
// stop bit was low. After a framing error the receiver waits for the line to
// go high before it looks for the next start bit (a break is one error, not a
// stream of zero bytes). `data` holds until the next byte completes.

`default_nettype none

module gf_uart_rx #(
    parameter int CLKS_PER_BIT = 104
) (
    input  wire logic       clk,
    input  wire logic       rst,
    input  wire logic       rx,
    output      logic       valid,
    output      logic [7:0] data,
    output      logic       frame_err
);

  if (CLKS_PER_BIT < 4) begin : g_bad_rate
    $fatal(1, "gf_uart_rx: CLKS_PER_BIT must be at least 4");
  end

  localparam int CW = $clog2(CLKS_PER_BIT);
  localparam logic [CW-1:0] BitLast = CW'(CLKS_PER_BIT - 1);
  localparam logic [CW-1:0] HalfLast = CW'(CLKS_PER_BIT / 2 - 1);

  typedef enum logic [2:0] {
    Idle,
    Start,
    Data,
    Stop,
    WaitHigh
  } state_t;

  // Power-up values: the idle level, so that no start bit is seen before the first reset.
  /* verilator lint_off PROCASSINIT */
  logic rx_meta = 1'b1;
  logic rx_sync = 1'b1;
  /* verilator lint_on PROCASSINIT */
  always_ff @(posedge clk) begin
    rx_meta <= rx;
    rx_sync <= rx_meta;
  end

  state_t        state;
  logic [CW-1:0] cnt;  // clocks left until the next sample point
  logic [   2:0] bitn;  // data bit being received
  logic [   7:0] shreg;

  assign data = shreg;

  always_ff @(posedge clk) begin
    valid <= 1'b0;
    if (rst) begin
      state     <= Idle;
      frame_err <= 1'b0;
    end else begin
      case (state)
        Idle: begin
          cnt <= HalfLast;
          if (!rx_sync) state <= Start;
        end
        Start: begin
          if (cnt != '0) cnt <= cnt - 1'b1;
          else if (rx_sync) state <= Idle;  // the start bit did not last: a glitch
          else begin
            cnt   <= BitLast;
            bitn  <= '0;
            state <= Data;
          end
        end
        Data: begin
          if (cnt != '0) cnt <= cnt - 1'b1;
          else begin
            shreg <= {rx_sync, shreg[7:1]};
            cnt   <= BitLast;
            bitn  <= bitn + 1'b1;
            if (bitn == 3'd7) state <= Stop;
          end
        end
        Stop: begin
          if (cnt != '0) cnt <= cnt - 1'b1;
          else begin
            valid     <= 1'b1;
            frame_err <= !rx_sync;
            state     <= rx_sync ? Idle : WaitHigh;
          end
        end
        default: begin  // WaitHigh
          if (rx_sync) state <= Idle;
        end
      endcase
    end
  end

endmodule

`default_nettype wire
