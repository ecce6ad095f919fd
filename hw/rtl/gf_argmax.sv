// SPDX-License-Identifier: Apache-2.0
//
// gf_argmax: combinational argmax over N unsigned W-bit scores.
//
// Class i's score is scores[i*W +: W]. `index` is the position of the largest
// score and `max_score` its value; ties go to the lowest index.
//
// A balanced comparison tree, one generate level per stage: node i of level l
// covers classes [i*2**l, (i+1)*2**l) and is the winner of nodes 2i (lower
// classes) and 2i+1 (upper classes) of level l-1; an odd last node passes
// through. The upper node wins only when strictly greater, so ties keep the
// lower classes at every level and the lowest index wins overall. A level-l
// node's index is local to its span, l bits: {upper_won, winner's index}.
// Depth is ceil(log2(N)) comparators. IW must be at least $clog2(N) (the default).
//
// The tree is written as levels rather than as a recursive module: Verilator
// 5.4x drops the sub-instances of a self-instantiating module when that module
// is the top of a build.

`default_nettype none

module gf_argmax #(
    parameter int N  = 10,
    parameter int W  = 8,
    parameter int IW = (N > 1) ? $clog2(N) : 1
) (
    input  wire logic [N*W-1:0] scores,
    output      logic [   IW-1:0] index,
    output      logic [    W-1:0] max_score
);

  if (N < 1 || W < 1) begin : g_bad_size
    $fatal(1, "gf_argmax: N and W must be at least 1");
  end

  if (IW < 1 || (N > 1 && IW < $clog2(N))) begin : g_bad_iw
    $fatal(1, "gf_argmax: IW is too narrow for N");
  end

  localparam int Levels = $clog2(N);  // comparator stages; 0 when N == 1

  for (genvar l = 0; l <= Levels; l++) begin : g_level
    localparam int Nodes = (N + (1 << l) - 1) >> l;

    logic [Nodes*W-1:0] best;  // node i's maximum is best[i*W +: W]

    if (l == 0) begin : g_leaves
      assign best = scores;
    end else begin : g_cmp
      localparam int PrevNodes = (N + (1 << (l - 1)) - 1) >> (l - 1);

      logic [Nodes*l-1:0] idx;  // node i's local index is idx[i*l +: l]

      for (genvar i = 0; i < Nodes; i++) begin : g_node
        if (2 * i + 1 < PrevNodes) begin : g_pair
          logic [W-1:0] lo_best, hi_best;
          logic         hi_wins;

          assign lo_best = g_level[l-1].best[2*i*W+:W];
          assign hi_best = g_level[l-1].best[(2*i+1)*W+:W];
          // Strictly greater: on a tie the lower classes keep the win.
          assign hi_wins = hi_best > lo_best;
          assign best[i*W+:W] = hi_wins ? hi_best : lo_best;

          if (l == 1) begin : g_first
            assign idx[i] = hi_wins;
          end else begin : g_upper
            assign idx[i*l+:l] = hi_wins ? {1'b1, g_level[l-1].g_cmp.idx[(2*i+1)*(l-1)+:(l-1)]}
                                         : {1'b0, g_level[l-1].g_cmp.idx[2*i*(l-1)+:(l-1)]};
          end
        end else begin : g_pass
          assign best[i*W+:W] = g_level[l-1].best[2*i*W+:W];

          if (l == 1) begin : g_first
            assign idx[i] = 1'b0;
          end else begin : g_upper
            assign idx[i*l+:l] = {1'b0, g_level[l-1].g_cmp.idx[2*i*(l-1)+:(l-1)]};
          end
        end
      end
    end
  end

  assign max_score = g_level[Levels].best;

  if (Levels == 0) begin : g_single
    assign index = '0;
  end else begin : g_index
    assign index = IW'(g_level[Levels].g_cmp.idx);
  end

endmodule

`default_nettype wire
