// SPDX-License-Identifier: Apache-2.0
//
// gf_window: one spatial stage of the time-multiplexed engine (docs/engine.md).
//
// Pixels of an [H, W, C] bit map arrive in raster order on s_* (row by row, C bits
// each). The stage walks the zero-padded map, (H + 2*PH) x (W + 2*PW) positions, one
// position per clock at most: a padding position needs no input and enters a zero
// pixel, any other takes the next input pixel. When the entering pixel completes a
// window of KH x KW that starts on the stride grid, `win` holds that window and the
// stage registers `f`, the K output bits its owner computes from `win`, into m_*.
// So the owner's logic (K kernel trees, or an OR per channel) exists once and is
// reused at every output position.
//
//   win[((i*KW + j)*C + c)] = bit c of the pixel at window row i, column j
//                             (row 0, column 0: the window's top left)
//
// Storage: a line buffer of WP = W + 2*PW entries, each the last KH-1 rows of one
// column (KH-1)*C bits wide, written and read once per position (block or LUT RAM,
// as synthesis maps it), plus KW-1 column registers of KH*C bits. Outputs leave in
// raster order of the output map, (H+2PH-KH)/SH+1 rows of (W+2PW-KW)/SW+1.
//
// Handshakes are AXI-Stream style; s_ready never depends on s_valid. A fired output
// waits in m_* until taken, and the next firing position waits for it. Nothing is
// reset but the counters and m_valid: a window only fires once it lies wholly in
// the current map, so stale buffer contents are never read.

`default_nettype none

module gf_window #(
    parameter int H  = 8,
    parameter int W  = 8,
    parameter int C  = 1,
    parameter int KH = 3,
    parameter int KW = 3,
    parameter int SH = 1,
    parameter int SW = 1,
    parameter int PH = 0,
    parameter int PW = 0,
    parameter int K  = 1
) (
    input  wire logic                 clk,
    input  wire logic                 rst,

    input  wire logic                 s_valid,
    output      logic                 s_ready,
    input  wire logic [        C-1:0] s_data,

    output      logic                 m_valid,
    input  wire logic                 m_ready,
    output      logic [        K-1:0] m_data,

    output      logic [KH*KW*C-1:0]   win,
    input  wire logic [        K-1:0] f
);
  localparam int HP = H + 2 * PH;
  localparam int WP = W + 2 * PW;
  localparam int YW = (HP > 1) ? $clog2(HP) : 1;
  localparam int XW = (WP > 1) ? $clog2(WP) : 1;
  localparam int RYW = $clog2(SH + 1);
  localparam int RXW = $clog2(SW + 1);
  localparam int CH = KH * C;  // one column of the window

  if (KH < 1 || KW < 1 || SH < 1 || SW < 1 || PH < 0 || PW < 0 || HP < KH || WP < KW)
  begin : g_bad
    $fatal(1, "gf_window: the window does not fit the padded map");
  end

  logic [YW-1:0] y;
  logic [XW-1:0] x;
  logic [RYW-1:0] ry;  // (y - (KH-1)) mod SH, once y >= KH-1
  logic [RXW-1:0] rx;  // (x - (KW-1)) mod SW, once x >= KW-1

  wire pad = (int'(y) < PH) || (int'(y) >= PH + H) || (int'(x) < PW) || (int'(x) >= PW + W);
  wire at_window = (int'(y) >= KH - 1) && (int'(x) >= KW - 1) && (ry == '0) && (rx == '0);
  wire out_free = !m_valid || m_ready;
  wire go = !at_window || out_free;  // this position may advance once its pixel is there
  assign s_ready = !pad && go;
  wire adv = go && (pad || s_valid);
  wire [C-1:0] pix = pad ? '0 : s_data;

  wire last_x = int'(x) == WP - 1;
  wire last_y = int'(y) == HP - 1;
  wire [XW-1:0] x_next = last_x ? '0 : x + 1'b1;
  wire [YW-1:0] y_next = last_y ? '0 : y + 1'b1;

  always_ff @(posedge clk) begin
    if (rst) begin
      y <= '0;
      x <= '0;
      ry <= '0;
      rx <= '0;
    end else if (adv) begin
      x <= x_next;
      rx <= (int'(x_next) == KW - 1 || int'(rx) == SW - 1) ? '0 : rx + 1'b1;
      if (last_x) begin
        y <= y_next;
        ry <= (int'(y_next) == KH - 1 || int'(ry) == SH - 1) ? '0 : ry + 1'b1;
      end
    end
  end

  // The current column: the KH-1 rows above from the line buffer, then the new pixel.
  logic [CH-1:0] column;
  if (KH > 1) begin : g_lines
    localparam int LW = (KH - 1) * C;
    logic [LW-1:0] lines[WP];
    logic [LW-1:0] above;  // lines[x], read when the walk arrived at x
    logic [LW-1:0] wdata;
    if (KH > 2) begin : g_up
      assign wdata = {pix, above[LW-1:C]};
    end else begin : g_one
      assign wdata = pix;
    end
    always_ff @(posedge clk) begin
      if (adv) begin
        lines[x] <= wdata;
        above <= (WP == 1) ? wdata : lines[x_next];
      end
    end
    assign column = {pix, above};
  end else begin : g_row
    assign column = pix;
  end

  // cols[m*CH +: CH] is column x-m: the current one, then KW-1 registered ones.
  logic [KW*CH-1:0] cols;
  assign cols[CH-1:0] = column;
  if (KW > 1) begin : g_cols
    logic [(KW-1)*CH-1:0] prev;
    always_ff @(posedge clk) if (adv) prev <= cols[(KW-1)*CH-1:0];
    assign cols[KW*CH-1:CH] = prev;
  end
  for (genvar i = 0; i < KH; i++) begin : g_win_row
    for (genvar j = 0; j < KW; j++) begin : g_win_col
      assign win[(i*KW+j)*C+:C] = cols[(KW-1-j)*CH+i*C+:C];
    end
  end

  always_ff @(posedge clk) begin
    if (rst) m_valid <= 1'b0;
    else if (adv && at_window) m_valid <= 1'b1;
    else if (m_ready) m_valid <= 1'b0;
  end
  always_ff @(posedge clk) if (adv && at_window) m_data <= f;
endmodule

`default_nettype wire
