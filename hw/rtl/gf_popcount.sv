// SPDX-License-Identifier: Apache-2.0
//
// gf_popcount: population count, count = number of ones in `in`, STAGES
// clock-enabled register stages after `in` (0: combinational).
//
// A balanced adder tree, one generate level per stage: level 0 holds the
// input bits, and node i of level l adds nodes 2i and 2i+1 of level l-1 (an
// odd last node passes through). A level-l node counts at most 2**l ones, so
// it is only l+1 bits wide (the root: $clog2(WIDTH+1) bits). Depth is ceil(log2(WIDTH)) small adders, which
// keeps a WIDTH of a few thousand cheap to synthesise and to simulate.
// OUT_WIDTH must be at least $clog2(WIDTH+1) (the default); wider is allowed.
//
// Pipelining: the Levels adder levels are cut into STAGES+1 segments as evenly
// as possible, with a register (advancing when `ce` is high) after the last
// level of each segment but the final one. With more STAGES than internal
// level boundaries, the extra registers delay the count. Either way `count`
// is the count of the `in` seen STAGES enabled clocks earlier.
//
// The tree is written as levels rather than as a recursive module: Verilator
// 5.4x drops the sub-instances of a self-instantiating module when that module
// is the top of a build.

`default_nettype none

module gf_popcount #(
    parameter int WIDTH     = 8,
    parameter int OUT_WIDTH = $clog2(WIDTH + 1),
    parameter int STAGES    = 0
) (
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire logic                 clk,  // unused when STAGES == 0
    input  wire logic                 ce,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire logic [    WIDTH-1:0] in,
    output      logic [OUT_WIDTH-1:0] count
);

  if (WIDTH < 1) begin : g_bad_width
    $fatal(1, "gf_popcount: WIDTH must be at least 1");
  end

  if (OUT_WIDTH < $clog2(WIDTH + 1)) begin : g_bad_out_width
    $fatal(1, "gf_popcount: OUT_WIDTH is too narrow for WIDTH");
  end

  if (STAGES < 0) begin : g_bad_stages
    $fatal(1, "gf_popcount: STAGES must be 0 or more");
  end

  localparam int Levels = $clog2(WIDTH);  // adder stages; 0 when WIDTH == 1
  localparam int CountW = $clog2(WIDTH + 1);  // bits of a count of 0 .. WIDTH
  // Registers between levels (at most Levels - 1) and after the root (the rest).
  localparam int Inner = (Levels == 0) ? 0 : ((STAGES < Levels - 1) ? STAGES : Levels - 1);
  localparam int Tail = STAGES - Inner;

  for (genvar l = 0; l <= Levels; l++) begin : g_level
    localparam int Nodes = (WIDTH + (1 << l) - 1) >> l;
    // A node counts at most 2**l ones; the root at most WIDTH.
    localparam int NW = (l + 1 < CountW) ? l + 1 : CountW;

    logic [Nodes*NW-1:0] sum;  // node i is sum[i*NW +: NW]
    logic [Nodes*NW-1:0] q;  // the level as the next level reads it

    if (l == 0) begin : g_leaves
      assign sum = in;
    end else begin : g_adders
      localparam int PrevNodes = (WIDTH + (1 << (l - 1)) - 1) >> (l - 1);
      localparam int PW = l;  // width of a level l-1 node (below the root, l < CountW)

      for (genvar i = 0; i < Nodes; i++) begin : g_node
        if (2 * i + 1 < PrevNodes) begin : g_add
          assign sum[i*NW+:NW] = NW'(g_level[l-1].q[2*i*PW+:PW])
                               + NW'(g_level[l-1].q[(2*i+1)*PW+:PW]);
        end else begin : g_pass
          assign sum[i*NW+:NW] = NW'(g_level[l-1].q[2*i*PW+:PW]);
        end
      end
    end

    // A register after level l when l ends a segment: floor(l*(Inner+1)/Levels) steps up.
    if (l >= 1 && l < Levels && (l * (Inner + 1)) / Levels != ((l - 1) * (Inner + 1)) / Levels)
    begin : g_reg
      always_ff @(posedge clk) if (ce) q <= sum;
    end else begin : g_wire
      assign q = sum;
    end
  end

  logic [(Tail+1)*CountW-1:0] tail;  // tail[t*CountW +: CountW]: the root, t clocks late
  assign tail[CountW-1:0] = CountW'(g_level[Levels].q);
  for (genvar t = 1; t <= Tail; t++) begin : g_tail
    always_ff @(posedge clk) if (ce) tail[t*CountW+:CountW] <= tail[(t-1)*CountW+:CountW];
  end

  assign count = OUT_WIDTH'(tail[Tail*CountW+:CountW]);

endmodule

`default_nettype wire
