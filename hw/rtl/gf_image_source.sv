// SPDX-License-Identifier: Apache-2.0
//
// gf_image_source: the front of the time-multiplexed engine (docs/engine.md). Takes
// a whole encoded sample on s_axis (bit (p*C + c) = bit c of pixel p, pixels in
// raster order) and hands its N pixels out one by one on m_*, pixel 0 first. The
// sample register shifts by one pixel per transfer, so a pixel costs no multiplexer.
// The next sample is taken in the clock that the last pixel leaves, or whenever the
// register is empty; s_axis_tready never depends on s_axis_tvalid.

`default_nettype none

module gf_image_source #(
    parameter int N = 64,  // pixels per sample
    parameter int C = 1    // bits per pixel
) (
    input  wire logic           clk,
    input  wire logic           rst,

    input  wire logic           s_axis_tvalid,
    output      logic           s_axis_tready,
    input  wire logic [N*C-1:0] s_axis_tdata,

    output      logic           m_valid,
    input  wire logic           m_ready,
    output      logic [  C-1:0] m_data
);
  localparam int NW = $clog2(N + 1);

  logic [N*C-1:0] img;
  logic [NW-1:0] left;  // pixels still to hand out

  assign m_valid = left != '0;
  assign m_data = img[C-1:0];
  assign s_axis_tready = (left == '0) || (left == NW'(1) && m_ready);

  always_ff @(posedge clk) begin
    if (rst) begin
      left <= '0;
    end else if (s_axis_tvalid && s_axis_tready) begin
      left <= NW'(N);
    end else if (m_valid && m_ready) begin
      left <= left - 1'b1;
    end
  end
  always_ff @(posedge clk) begin
    if (s_axis_tvalid && s_axis_tready) img <= s_axis_tdata;
    else if (m_valid && m_ready) img <= img >> C;
  end
endmodule

`default_nettype wire
