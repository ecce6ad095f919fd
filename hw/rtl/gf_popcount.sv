// SPDX-License-Identifier: Apache-2.0
//
// gf_popcount: combinational population count, count = number of ones in `in`.
//
// A balanced adder tree, one generate level per stage: level 0 holds the
// input bits, and node i of level l adds nodes 2i and 2i+1 of level l-1 (an
// odd last node passes through). A level-l node counts at most 2**l ones, so
// it is only l+1 bits wide (the root: $clog2(WIDTH+1) bits). Depth is ceil(log2(WIDTH)) small adders, which
// keeps a WIDTH of a few thousand cheap to synthesise and to simulate.
// OUT_WIDTH must be at least $clog2(WIDTH+1) (the default); wider is allowed.
//
// The tree is written as levels rather than as a recursive module: Verilator
// 5.4x drops the sub-instances of a self-instantiating module when that module
// is the top of a build.

`default_nettype none

module gf_popcount #(
    parameter int WIDTH     = 8,
    parameter int OUT_WIDTH = $clog2(WIDTH + 1)
) (
    input  wire logic [    WIDTH-1:0] in,
    output      logic [OUT_WIDTH-1:0] count
);

  if (WIDTH < 1) begin : g_bad_width
    $fatal(1, "gf_popcount: WIDTH must be at least 1");
  end

  if (OUT_WIDTH < $clog2(WIDTH + 1)) begin : g_bad_out_width
    $fatal(1, "gf_popcount: OUT_WIDTH is too narrow for WIDTH");
  end

  localparam int Levels = $clog2(WIDTH);  // adder stages; 0 when WIDTH == 1
  localparam int CountW = $clog2(WIDTH + 1);  // bits of a count of 0 .. WIDTH

  for (genvar l = 0; l <= Levels; l++) begin : g_level
    localparam int Nodes = (WIDTH + (1 << l) - 1) >> l;
    // A node counts at most 2**l ones; the root at most WIDTH.
    localparam int NW = (l + 1 < CountW) ? l + 1 : CountW;

    logic [Nodes*NW-1:0] sum;  // node i is sum[i*NW +: NW]

    if (l == 0) begin : g_leaves
      assign sum = in;
    end else begin : g_adders
      localparam int PrevNodes = (WIDTH + (1 << (l - 1)) - 1) >> (l - 1);
      localparam int PW = l;  // width of a level l-1 node (below the root, l < CountW)

      for (genvar i = 0; i < Nodes; i++) begin : g_node
        if (2 * i + 1 < PrevNodes) begin : g_add
          assign sum[i*NW+:NW] = NW'(g_level[l-1].sum[2*i*PW+:PW])
                               + NW'(g_level[l-1].sum[(2*i+1)*PW+:PW]);
        end else begin : g_pass
          assign sum[i*NW+:NW] = NW'(g_level[l-1].sum[2*i*PW+:PW]);
        end
      end
    end
  end

  assign count = OUT_WIDTH'(g_level[Levels].sum);

endmodule

`default_nettype wire
