// SPDX-License-Identifier: Apache-2.0
//
// gf_board_top: a generated network core (module gf_core) behind a UART that
// speaks the gateflow wire protocol, version 1 (docs/protocol.md).
//
//   uart_rx -> gf_uart_rx -> gf_frame_rx --sample, SEQ--> gf_core --result--> result FIFO
//                                 |  \--SEQ--> SEQ FIFO ---------^                 |
//                                 |--INFO request--> pending INFO --\              |
//                                 '--error---------> pending error --> gf_frame_tx <'
//                                                                       -> gf_uart_tx -> uart_tx
//
// A good INFER frame's sample enters the core with its SEQ, which waits in a
// FIFO beside the core (the core keeps order) and joins the result at the
// core's output. Results queue in a FIFO of WINDOW entries. A credit counter
// limits the samples in flight (in the core or waiting in the result FIFO) to
// WINDOW, so neither FIFO can overflow and the core is never stalled; a good
// INFER that arrives when WINDOW samples are in flight is answered with BUSY.
// A credit returns when the result has been handed to the UART in full, before
// the host can have seen it, so a host that keeps at most WINDOW INFER frames
// outstanding never sees BUSY. Errors and INFO requests wait in one-entry
// pending registers (an error that finds the register full is dropped; it
// still lights the error LED).
//
// LEDs: led[N_LEDS-1] is lit for CLK_HZ/4 clocks after any error; the others
// show the low bits of the class of the last RESULT sent.
//
// Reset: a power-on reset from a counter with an initial value, OR'ed with
// the synchronous active-high ext_rst (tie it to 0 on a board).
//
// BLOCK_RAM = 1 asks synthesis to keep the two FIFOs in block RAM (fewer LUTs,
// as on the iCE40); 0 leaves them to the tool, which picks LUT RAM or flip-flops
// and so a shorter path into the transmitter (as on the ECP5 at high clocks).

`default_nettype none

module gf_board_top #(
    parameter int          CLK_HZ         = 12_000_000,
    parameter int          BAUD           = 115_200,
    parameter int          IN_BITS        = 64,
    parameter int          OUT_WIDTH      = 4,
    parameter int          N_CLASSES      = 10,
    parameter int          IDX_W          = 4,
    parameter int          SCORE_W        = 4,
    parameter int          SCORES         = 0,
    parameter logic [63:0] MODEL_ID       = 64'h0,
    parameter int          WINDOW         = 8,
    parameter int          TIMEOUT_BITS   = 40,
    parameter int          N_LEDS         = 4,
    parameter int          LED_ACTIVE_LOW = 0,
    parameter int          BLOCK_RAM      = 1
) (
    input  wire logic              clk,
    input  wire logic              ext_rst,
    input  wire logic              uart_rx,
    output      logic              uart_tx,
    output      logic [N_LEDS-1:0] led
);

  localparam int ClksPerBit = (CLK_HZ + BAUD / 2) / BAUD;
  localparam int SampleBytes = (IN_BITS + 7) / 8;
  localparam int IdxBytes = (IDX_W + 7) / 8;
  localparam int ScoreBytes = (SCORE_W + 7) / 8;
  localparam int IB = IdxBytes * 8;
  localparam int SB = ScoreBytes * 8;
  localparam int ResLen = IdxBytes + ((SCORES != 0) ? N_CLASSES * ScoreBytes : 0);
  localparam int InfoLen = 25;
  localparam int ResW = 8 + OUT_WIDTH;  // a result FIFO entry: {SEQ, core output}
  localparam int CrW = $clog2(WINDOW + 1);
  localparam int StretchClks = (CLK_HZ / 4 > 1) ? CLK_HZ / 4 : 1;
  localparam int StW = $clog2(StretchClks + 1);

  if (ClksPerBit < 4) begin : g_bad_rate
    $fatal(1, "gf_board_top: CLK_HZ must be at least 4 * BAUD");
  end
  if (OUT_WIDTH != IDX_W + ((SCORES != 0) ? N_CLASSES * SCORE_W : 0)) begin : g_bad_out
    $fatal(1, "gf_board_top: OUT_WIDTH does not match IDX_W, N_CLASSES, SCORE_W and SCORES");
  end
  if (WINDOW < 1 || WINDOW > 255) begin : g_bad_window
    $fatal(1, "gf_board_top: WINDOW must be 1..255");
  end
  if (IN_BITS < 1 || IN_BITS > 65535 || N_CLASSES < 1 || N_CLASSES > 65535) begin : g_bad_size
    $fatal(1, "gf_board_top: IN_BITS and N_CLASSES must be 1..65535");
  end
  if (N_LEDS < 1) begin : g_bad_leds
    $fatal(1, "gf_board_top: N_LEDS must be at least 1");
  end

  // ---- reset ------------------------------------------------------------------------
  // Power-up values (FPGA register initial values), not a reset.
  /* verilator lint_off PROCASSINIT */
  logic [3:0] por_cnt = 4'd0;
  logic       rst = 1'b1;
  /* verilator lint_on PROCASSINIT */
  always_ff @(posedge clk) begin
    if (por_cnt != 4'hF) por_cnt <= por_cnt + 1'b1;
    rst <= (por_cnt != 4'hF) || ext_rst;
  end

  // ---- UART ---------------------------------------------------------------------------
  logic       rx_valid, rx_frame_err;
  logic [7:0] rx_data;
  gf_uart_rx #(.CLKS_PER_BIT(ClksPerBit)) u_uart_rx (
      .clk(clk), .rst(rst), .rx(uart_rx),
      .valid(rx_valid), .data(rx_data), .frame_err(rx_frame_err));

  logic       tx_valid, tx_ready;
  logic [7:0] tx_data;
  gf_uart_tx #(.CLKS_PER_BIT(ClksPerBit)) u_uart_tx (
      .clk(clk), .rst(rst),
      .s_valid(tx_valid), .s_ready(tx_ready), .s_data(tx_data), .tx(uart_tx));

  // ---- frames in ----------------------------------------------------------------------
  logic                     smp_valid, smp_ready, smp_busy;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [SampleBytes*8-1:0] smp_data;  // the padding bits of the last byte are ignored
  /* verilator lint_on UNUSEDSIGNAL */
  logic [              7:0] smp_seq;
  logic                     info_req, info_busy;
  logic [              7:0] info_req_seq;
  logic                     rx_err;
  logic [              2:0] rx_err_code;
  logic [              7:0] rx_err_seq;

  gf_frame_rx #(
      .CLKS_PER_BIT(ClksPerBit), .TIMEOUT_BITS(TIMEOUT_BITS), .SAMPLE_BYTES(SampleBytes)
  ) u_frame_rx (
      .clk(clk), .rst(rst),
      .byte_valid(rx_valid), .byte_data(rx_data), .byte_frame_err(rx_frame_err),
      .smp_valid(smp_valid), .smp_ready(smp_ready), .smp_data(smp_data), .smp_seq(smp_seq),
      .smp_busy(smp_busy),
      .info_req(info_req), .info_seq(info_req_seq), .info_busy(info_busy),
      .err_valid(rx_err), .err_code(rx_err_code), .err_seq(rx_err_seq));

  // ---- the core, its SEQ FIFO and the result FIFO -------------------------------------
  logic                 core_m_valid, core_m_ready;
  logic [OUT_WIDTH-1:0] core_m_data;
  logic                 seq_valid;
  logic [          7:0] seq_head;
  logic                 res_in_ready;
  logic                 res_valid, res_ready;
  logic [     ResW-1:0] res_head;

  gf_core u_core (
      .clk(clk), .rst(rst),
      .s_axis_tvalid(smp_valid), .s_axis_tready(smp_ready),
      .s_axis_tdata(smp_data[IN_BITS-1:0]),
      .m_axis_tvalid(core_m_valid), .m_axis_tready(core_m_ready),
      .m_axis_tdata(core_m_data));

  wire core_in_fire = smp_valid && smp_ready;
  wire core_out_fire = core_m_valid && core_m_ready;
  assign core_m_ready = seq_valid && res_in_ready;

  /* verilator lint_off PINCONNECTEMPTY */
  gf_sync_fifo #(.WIDTH(8), .DEPTH(WINDOW), .BLOCK_RAM(BLOCK_RAM)) u_seq_fifo (
      .clk(clk), .rst(rst),
      .s_valid(core_in_fire), .s_ready(), .s_data(smp_seq),
      .m_valid(seq_valid), .m_ready(core_out_fire), .m_data(seq_head));
  /* verilator lint_on PINCONNECTEMPTY */

  gf_sync_fifo #(.WIDTH(ResW), .DEPTH(WINDOW), .BLOCK_RAM(BLOCK_RAM)) u_res_fifo (
      .clk(clk), .rst(rst),
      .s_valid(core_out_fire), .s_ready(res_in_ready), .s_data({seq_head, core_m_data}),
      .m_valid(res_valid), .m_ready(res_ready), .m_data(res_head));

  // Credits: samples in the core or the result FIFO.
  logic [CrW-1:0] in_flight;
  always_ff @(posedge clk) begin
    if (rst) in_flight <= '0;
    else if (core_in_fire && !res_ready) in_flight <= in_flight + 1'b1;
    else if (res_ready && !core_in_fire) in_flight <= in_flight - 1'b1;
  end
  assign smp_busy = in_flight == CrW'(WINDOW);

  // ---- pending INFO request and error -------------------------------------------------
  logic       info_pend, info_take;
  logic [7:0] info_pend_seq;
  assign info_busy = info_pend;
  always_ff @(posedge clk) begin
    if (rst) info_pend <= 1'b0;
    else if (info_req) info_pend <= 1'b1;
    else if (info_take) info_pend <= 1'b0;
    if (info_req) info_pend_seq <= info_req_seq;
  end

  logic       err_pend, err_take;
  logic [2:0] err_pend_code;
  logic [7:0] err_pend_seq;
  always_ff @(posedge clk) begin
    if (rst) begin
      err_pend <= 1'b0;
    end else if (rx_err && !err_pend) begin
      err_pend      <= 1'b1;
      err_pend_code <= rx_err_code;
      err_pend_seq  <= rx_err_seq;
    end else if (err_take) begin
      err_pend <= 1'b0;
    end
  end

  // ---- frames out ---------------------------------------------------------------------
  localparam logic [7:0] Flags = {7'd0, SCORES != 0};
  localparam logic [InfoLen*8-1:0] InfoPayload = {
    32'(BAUD), 32'(CLK_HZ), MODEL_ID, 8'(WINDOW), Flags, 8'(SCORE_W), 8'(IDX_W),
    16'(N_CLASSES), 16'(IN_BITS), 8'd1
  };

  logic [ResLen*8-1:0] res_payload;
  assign res_payload[IB-1:0] = IB'(res_head[IDX_W-1:0]);
  if (SCORES != 0) begin : g_scores
    for (genvar c = 0; c < N_CLASSES; c++) begin : g_class
      assign res_payload[IB+c*SB+:SB] = SB'(res_head[IDX_W+c*SCORE_W+:SCORE_W]);
    end
  end

  gf_frame_tx #(.RES_LEN(ResLen), .INFO_LEN(InfoLen)) u_frame_tx (
      .clk(clk), .rst(rst),
      .err_valid(err_pend), .err_ready(err_take), .err_seq(err_pend_seq),
      .err_code({5'd0, err_pend_code}),
      .info_valid(info_pend), .info_ready(info_take), .info_seq(info_pend_seq),
      .info_payload(InfoPayload),
      .res_valid(res_valid), .res_ready(res_ready), .res_seq(res_head[ResW-1-:8]),
      .res_payload(res_payload),
      .tx_valid(tx_valid), .tx_ready(tx_ready), .tx_data(tx_data));

  // ---- LEDs ---------------------------------------------------------------------------
  logic [StW-1:0] err_stretch;
  always_ff @(posedge clk) begin
    if (rst) err_stretch <= '0;
    else if (rx_err) err_stretch <= StW'(StretchClks);
    else if (err_stretch != '0) err_stretch <= err_stretch - 1'b1;
  end

  logic [N_LEDS-1:0] led_on;
  assign led_on[N_LEDS-1] = err_stretch != '0;
  if (N_LEDS > 1) begin : g_class_leds
    localparam int CL = N_LEDS - 1;
    logic [CL-1:0] last_class;
    always_ff @(posedge clk) begin
      if (rst) last_class <= '0;
      else if (res_ready) last_class <= CL'(res_head[IDX_W-1:0]);
    end
    assign led_on[CL-1:0] = last_class;
  end

  // Registered, so that no logic sits between a flip-flop and the pins.
  always_ff @(posedge clk) led <= (LED_ACTIVE_LOW != 0) ? ~led_on : led_on;

endmodule

`default_nettype wire
