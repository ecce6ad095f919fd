// SPDX-License-Identifier: Apache-2.0
//
// gf_frame_tx: the sending half of the board's wire protocol (docs/protocol.md).
//
// Three sources, each AXI-Stream style, are turned into frames
//   SOF(0xA5) TYPE SEQ LEN_LO LEN_HI PAYLOAD[LEN] CRC_LO CRC_HI
// on a byte stream for gf_uart_tx:
//   - err:  ERROR (0xE0), payload the 1-byte code;
//   - info: INFO reply (0x82), payload info_payload (INFO_LEN bytes, byte 0 in bits 7:0);
//   - res:  RESULT (0x81), payload res_payload (RES_LEN bytes, byte 0 in bits 7:0).
// Between frames the sources are served in that order of priority; a frame is
// always sent whole, never interleaved with another. The SEQ (and the error
// code) are copied when a frame starts, so err and info are taken (ready) at
// the start of their frame; a result is taken at the end of its frame, when
// CRC_HI has been handed to the UART, and res_payload must hold until then.
// The frame is walked by a small state machine (header, payload, CRC low, CRC
// high) whose decisions are registered one byte ahead, so that the wide enables
// (the payload shift register) hang off one flip-flop, not off comparators.
// The CRC (CRC-16/CCITT-FALSE over TYPE .. the last payload byte) is computed
// on the fly as the bytes are handed over. A result's payload is copied into a
// shift register when its frame starts, so that the path from the result FIFO
// (possibly a block RAM read port) ends in flip-flops, not in the byte mux.

`default_nettype none

module gf_frame_tx #(
    parameter int RES_LEN  = 1,
    parameter int INFO_LEN = 25
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    input  wire logic                  err_valid,
    output      logic                  err_ready,
    input  wire logic [           7:0] err_seq,
    input  wire logic [           7:0] err_code,

    input  wire logic                  info_valid,
    output      logic                  info_ready,
    input  wire logic [           7:0] info_seq,
    input  wire logic [INFO_LEN*8-1:0] info_payload,

    input  wire logic                  res_valid,
    output      logic                  res_ready,
    input  wire logic [           7:0] res_seq,
    input  wire logic [ RES_LEN*8-1:0] res_payload,

    // bytes to gf_uart_tx
    output      logic                  tx_valid,
    input  wire logic                  tx_ready,
    output      logic [           7:0] tx_data
);

  if (RES_LEN < 1 || RES_LEN > 65535 || INFO_LEN < 1 || INFO_LEN > 65535) begin : g_bad_len
    $fatal(1, "gf_frame_tx: payload lengths must be 1..65535");
  end

  localparam int MaxLen = (RES_LEN > INFO_LEN) ? RES_LEN : INFO_LEN;
  localparam int PW = (MaxLen > 1) ? $clog2(MaxLen) : 1;  // payload byte index
  localparam logic [15:0] ResLen = 16'(RES_LEN);
  localparam logic [15:0] InfoLen = 16'(INFO_LEN);
  // protocol constants: the same values as gateflow.protocol (tests/test_protocol_rtl.py)
  localparam logic [7:0] Sof = 8'hA5;
  localparam logic [7:0] TypeResult = 8'h81;
  localparam logic [7:0] TypeInfoReply = 8'h82;
  localparam logic [7:0] TypeError = 8'hE0;

  typedef enum logic [1:0] {
    KindErr,
    KindInfo,
    KindRes
  } kind_t;

  kind_t kind;
  logic [7:0] seq;
  logic [7:0] code;
  logic [15:0] crc;
  logic [15:0] crc_next;

  // Where in the frame: one-hot phases, the header byte, the payload byte.
  logic busy, ph_hdr, ph_pay, ph_crc_lo, ph_crc_hi;
  logic [2:0] hidx;  // header byte 0..4
  logic [PW-1:0] pidx;  // payload byte
  logic last_pay;  // pidx is the last payload byte (registered one byte ahead)

  logic [7:0] ftype;
  logic [15:0] len;
  logic [PW-1:0] len_m1;  // index of the last payload byte
  always_comb begin
    case (kind)
      KindErr: begin
        ftype  = TypeError;
        len    = 16'd1;
        len_m1 = '0;
      end
      KindInfo: begin
        ftype  = TypeInfoReply;
        len    = InfoLen;
        len_m1 = PW'(INFO_LEN - 1);
      end
      default: begin
        ftype  = TypeResult;
        len    = ResLen;
        len_m1 = PW'(RES_LEN - 1);
      end
    endcase
  end

  logic [RES_LEN*8-1:0] res_sr;  // the result's payload, byte pidx in bits 7:0
  logic [7:0] pbyte;
  always_comb begin
    case (kind)
      KindErr:  pbyte = code;
      KindInfo: pbyte = info_payload[pidx*8+:8];
      default:  pbyte = res_sr[7:0];
    endcase
  end

  logic [7:0] hbyte;
  always_comb begin
    case (hidx)
      3'd0: hbyte = Sof;
      3'd1: hbyte = ftype;
      3'd2: hbyte = seq;
      3'd3: hbyte = len[7:0];
      default: hbyte = len[15:8];
    endcase
  end

  always_comb begin
    if (ph_hdr) tx_data = hbyte;
    else if (ph_pay) tx_data = pbyte;
    else if (ph_crc_lo) tx_data = crc[7:0];
    else tx_data = crc[15:8];
  end

  // The CRC takes each byte one clock after its handover, from a register: the UART
  // needs many clocks per byte, so it is up to date long before CRC_LO is offered.
  logic [7:0] crc_byte;
  logic crc_take;
  gf_crc16 u_crc (.crc_in(crc), .data(crc_byte), .crc_out(crc_next));

  assign tx_valid = busy;
  wire tx_fire = busy && tx_ready;
  wire start = !busy;
  assign err_ready = start && err_valid;
  assign info_ready = start && !err_valid && info_valid;
  assign res_ready = tx_fire && ph_crc_hi && kind == KindRes;

  always_ff @(posedge clk) begin
    crc_byte <= tx_data;
    crc_take <= tx_fire && ((ph_hdr && hidx != 3'd0) || ph_pay);
    if (crc_take) crc <= crc_next;
    if (rst) begin
      busy <= 1'b0;
      ph_hdr <= 1'b0;
      ph_pay <= 1'b0;
      ph_crc_lo <= 1'b0;
      ph_crc_hi <= 1'b0;
      crc_take <= 1'b0;
    end else if (start) begin
      hidx <= '0;
      pidx <= '0;
      crc <= 16'hFFFF;
      ph_hdr <= 1'b1;
      ph_pay <= 1'b0;
      ph_crc_lo <= 1'b0;
      ph_crc_hi <= 1'b0;
      if (err_valid) begin
        busy <= 1'b1;
        kind <= KindErr;
        seq  <= err_seq;
        code <= err_code;
        last_pay <= 1'b1;
      end else if (info_valid) begin
        busy <= 1'b1;
        kind <= KindInfo;
        seq  <= info_seq;
        last_pay <= INFO_LEN == 1;
      end else if (res_valid) begin
        busy <= 1'b1;
        kind <= KindRes;
        seq  <= res_seq;
        last_pay <= RES_LEN == 1;
      end
      res_sr <= res_payload;
    end else if (tx_fire) begin
      if (ph_hdr) begin
        hidx <= hidx + 1'b1;
        if (hidx == 3'd4) begin
          ph_hdr <= 1'b0;
          ph_pay <= 1'b1;
        end
      end
      if (ph_pay) begin
        pidx <= pidx + 1'b1;
        res_sr <= res_sr >> 8;
        last_pay <= pidx + 1'b1 == len_m1;
        if (last_pay) begin
          ph_pay <= 1'b0;
          ph_crc_lo <= 1'b1;
        end
      end
      if (ph_crc_lo) begin
        ph_crc_lo <= 1'b0;
        ph_crc_hi <= 1'b1;
      end
      if (ph_crc_hi) begin
        ph_crc_hi <= 1'b0;
        busy <= 1'b0;
      end
    end
  end

endmodule

`default_nettype wire
