// SPDX-License-Identifier: Apache-2.0
//
// gf_serial_groupsum: GroupSum over several clocks, for the time-multiplexed engine.
//
// N classes, each a group of G bits: class c's bits are s_bits[c*G +: G] (a shorter
// group is padded with zeros above its bits). A sample is loaded into one shift
// register per class; then, for STEPS = ceil(G/K) clocks, each class adds the
// popcount of its lowest K bits to its count and shifts them out. Class c's count
// is m_scores[c*W +: W] while m_valid is high.
//
// Why: a parallel popcount costs about two LUT4 per counted bit; this one costs a
// K-bit popcount and a W-bit adder per class, and its shift registers take the bits
// straight from the last gate layer (a gate and the load multiplexer share one LUT4).
// The engine takes a sample every few hundred clocks, so the counting is hidden.
//
// Handshakes: s_ready is high when idle, or when the counts are done and taken in
// this clock. A sample accepted at clock t gives m_valid at t + STEPS + 1 and the
// next sample may be accepted in that clock (one sample every STEPS + 1 clocks).
// m_scores holds while m_valid is high and m_ready low.

`default_nettype none

module gf_serial_groupsum #(
    parameter int N = 10,
    parameter int G = 8,
    parameter int K = 1,
    parameter int W = $clog2(G + 1)
) (
    input  wire logic           clk,
    input  wire logic           rst,
    input  wire logic           s_valid,
    output      logic           s_ready,
    input  wire logic [N*G-1:0] s_bits,
    output      logic           m_valid,
    input  wire logic           m_ready,
    output      logic [N*W-1:0] m_scores
);

  if (N < 1 || G < 1 || K < 1) begin : g_bad_size
    $fatal(1, "gf_serial_groupsum: N, G and K must be at least 1");
  end

  if (W < $clog2(G + 1)) begin : g_bad_width
    $fatal(1, "gf_serial_groupsum: W is too narrow for G");
  end

  localparam int Steps = (G + K - 1) / K;
  localparam int GP = Steps * K;  // the group padded to whole steps
  localparam int SC = $clog2(Steps + 1);
  localparam int KW = $clog2(K + 1);

  logic          busy;  // a sample is loaded (counting, or done and waiting)
  logic [SC-1:0] left;  // steps still to take
  wire           done = busy && left == '0;
  wire           take = s_valid && s_ready;

  assign m_valid = done;
  assign s_ready = !busy || (done && m_ready);

  always_ff @(posedge clk) begin
    if (rst) begin
      busy <= 1'b0;
      left <= '0;
    end else if (take) begin
      busy <= 1'b1;
      left <= SC'(Steps);
    end else if (busy && left != '0) begin
      left <= left - 1'b1;
    end else if (done && m_ready) begin
      busy <= 1'b0;
    end
  end

  for (genvar c = 0; c < N; c++) begin : g_class
    logic [GP-1:0] sh;
    logic [ W-1:0] acc;
    logic [KW-1:0] ones;

    gf_popcount #(.WIDTH(K)) u_pop (.clk(clk), .ce(1'b0), .in(sh[K-1:0]), .count(ones));

    always_ff @(posedge clk) begin
      if (take) begin
        sh  <= GP'(s_bits[c*G+:G]);
        acc <= '0;
      end else if (busy && left != '0) begin
        sh  <= sh >> K;
        acc <= acc + W'(ones);
      end
    end

    assign m_scores[c*W+:W] = acc;
  end

endmodule

`default_nettype wire
