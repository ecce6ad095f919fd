// SPDX-License-Identifier: Apache-2.0
//
// gf_argmax: argmax over N unsigned W-bit scores, with STAGES clock-enabled
// register stages (0: combinational).
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
// Pipelining as in gf_popcount: the comparator levels are cut into STAGES+1
// even segments with a register (advancing when `ce` is high) between them;
// registers beyond the level boundaries delay the result. The outputs belong
// to the scores seen STAGES enabled clocks earlier.
//
// The tree is written as levels rather than as a recursive module: Verilator
// 5.4x drops the sub-instances of a self-instantiating module when that module
// is the top of a build.

`default_nettype none

module gf_argmax #(
    parameter int N  = 10,
    parameter int W  = 8,
    parameter int IW = (N > 1) ? $clog2(N) : 1,
    parameter int STAGES = 0
) (
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire logic           clk,  // unused when STAGES == 0
    input  wire logic           ce,
    /* verilator lint_on UNUSEDSIGNAL */
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

  if (STAGES < 0) begin : g_bad_stages
    $fatal(1, "gf_argmax: STAGES must be 0 or more");
  end

  localparam int Levels = $clog2(N);  // comparator stages; 0 when N == 1
  // Registers between levels (at most Levels - 1) and after the root (the rest).
  localparam int Inner = (Levels == 0) ? 0 : ((STAGES < Levels - 1) ? STAGES : Levels - 1);
  localparam int Tail = STAGES - Inner;
  localparam int LW = (Levels > 0) ? Levels : 1;  // width of the root's index

  for (genvar l = 0; l <= Levels; l++) begin : g_level
    localparam int Nodes = (N + (1 << l) - 1) >> l;

    logic [Nodes*W-1:0] best;  // node i's maximum is best[i*W +: W]
    logic [Nodes*W-1:0] qbest;  // the level as the next level reads it
    // A register after level l when l ends a segment: floor(l*(Inner+1)/Levels) steps up.
    localparam bit Reg = l >= 1 && l < Levels
        && (l * (Inner + 1)) / Levels != ((l - 1) * (Inner + 1)) / Levels;

    if (Reg) begin : g_reg
      always_ff @(posedge clk) if (ce) qbest <= best;
    end else begin : g_wire
      assign qbest = best;
    end

    if (l == 0) begin : g_leaves
      assign best = scores;
    end else begin : g_cmp
      localparam int PrevNodes = (N + (1 << (l - 1)) - 1) >> (l - 1);

      logic [Nodes*l-1:0] idx;  // node i's local index is idx[i*l +: l]
      logic [Nodes*l-1:0] qidx;

      if (Reg) begin : g_reg_idx
        always_ff @(posedge clk) if (ce) qidx <= idx;
      end else begin : g_wire_idx
        assign qidx = idx;
      end

      for (genvar i = 0; i < Nodes; i++) begin : g_node
        if (2 * i + 1 < PrevNodes) begin : g_pair
          logic [W-1:0] lo_best, hi_best;
          logic         hi_wins;

          assign lo_best = g_level[l-1].qbest[2*i*W+:W];
          assign hi_best = g_level[l-1].qbest[(2*i+1)*W+:W];
          // Strictly greater: on a tie the lower classes keep the win.
          assign hi_wins = hi_best > lo_best;
          assign best[i*W+:W] = hi_wins ? hi_best : lo_best;

          if (l == 1) begin : g_first
            assign idx[i] = hi_wins;
          end else begin : g_upper
            assign idx[i*l+:l] = hi_wins ? {1'b1, g_level[l-1].g_cmp.qidx[(2*i+1)*(l-1)+:(l-1)]}
                                         : {1'b0, g_level[l-1].g_cmp.qidx[2*i*(l-1)+:(l-1)]};
          end
        end else begin : g_pass
          assign best[i*W+:W] = g_level[l-1].qbest[2*i*W+:W];

          if (l == 1) begin : g_first
            assign idx[i] = 1'b0;
          end else begin : g_upper
            assign idx[i*l+:l] = {1'b0, g_level[l-1].g_cmp.qidx[2*i*(l-1)+:(l-1)]};
          end
        end
      end
    end
  end

  // The root (its index is 0 when N == 1), then Tail registers.
  logic [(Tail+1)*(W+LW)-1:0] tail;  // tail[t*(W+LW) +: W+LW]: {max, index}, t clocks late
  if (Levels == 0) begin : g_single
    assign tail[W+LW-1:0] = {g_level[0].qbest, LW'(0)};
  end else begin : g_root
    assign tail[W+LW-1:0] = {g_level[Levels].qbest, g_level[Levels].g_cmp.qidx};
  end
  for (genvar t = 1; t <= Tail; t++) begin : g_tail
    always_ff @(posedge clk) if (ce) tail[t*(W+LW)+:W+LW] <= tail[(t-1)*(W+LW)+:W+LW];
  end

  assign max_score = tail[Tail*(W+LW)+LW+:W];
  assign index = IW'(tail[Tail*(W+LW)+:LW]);

endmodule

`default_nettype wire
