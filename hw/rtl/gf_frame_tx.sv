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
  localparam int IW = $clog2(MaxLen + 7);  // byte index within a frame, 0 .. LEN+6
  localparam logic [IW-1:0] PayloadStart = IW'(5);
  localparam logic [15:0] ResLen = 16'(RES_LEN);
  localparam logic [15:0] InfoLen = 16'(INFO_LEN);

  typedef enum logic [1:0] {
    KindErr,
    KindInfo,
    KindRes
  } kind_t;

  logic busy;
  kind_t kind;
  logic [7:0] seq;
  logic [7:0] code;
  logic [IW-1:0] idx;  // byte of the frame being offered
  logic [15:0] crc;
  logic [15:0] crc_next;

  logic [7:0] ftype;
  logic [15:0] len;
  always_comb begin
    case (kind)
      KindErr: begin
        ftype = 8'hE0;
        len   = 16'd1;
      end
      KindInfo: begin
        ftype = 8'h82;
        len   = InfoLen;
      end
      default: begin
        ftype = 8'h81;
        len   = ResLen;
      end
    endcase
  end

  // The payload byte at position pidx of the current frame (pidx counts payload
  // bytes handed over: a counter, not idx - 5, to keep a subtractor off the byte path).
  logic [IW-1:0] pidx;
  logic [7:0] pbyte;
  logic [RES_LEN*8-1:0] res_sr;  // the result's payload, byte pidx in bits 7:0
  always_comb begin
    case (kind)
      KindErr:  pbyte = code;
      KindInfo: pbyte = info_payload[pidx*8+:8];
      default:  pbyte = res_sr[7:0];
    endcase
  end

  // Positions of the two CRC bytes: constants per kind, so no adder sits in the byte path.
  logic [IW-1:0] crc_lo_idx, crc_hi_idx;
  always_comb begin
    case (kind)
      KindErr: begin
        crc_lo_idx = IW'(6);
        crc_hi_idx = IW'(7);
      end
      KindInfo: begin
        crc_lo_idx = IW'(5 + INFO_LEN);
        crc_hi_idx = IW'(6 + INFO_LEN);
      end
      default: begin
        crc_lo_idx = IW'(5 + RES_LEN);
        crc_hi_idx = IW'(6 + RES_LEN);
      end
    endcase
  end
  wire in_payload = idx >= PayloadStart && idx < crc_lo_idx;
  wire is_crc_lo = idx == crc_lo_idx;
  wire is_crc_hi = idx == crc_hi_idx;

  always_comb begin
    case (idx)
      IW'(0): tx_data = 8'hA5;
      IW'(1): tx_data = ftype;
      IW'(2): tx_data = seq;
      IW'(3): tx_data = len[7:0];
      IW'(4): tx_data = len[15:8];
      default: begin
        if (in_payload) tx_data = pbyte;
        else if (is_crc_lo) tx_data = crc[7:0];
        else tx_data = crc[15:8];
      end
    endcase
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
  assign res_ready = tx_fire && is_crc_hi && kind == KindRes;

  always_ff @(posedge clk) begin
    crc_byte <= tx_data;
    crc_take <= tx_fire && idx != '0 && !is_crc_lo && !is_crc_hi;
    if (crc_take) crc <= crc_next;
    if (rst) begin
      busy <= 1'b0;
      crc_take <= 1'b0;
    end else if (start) begin
      idx <= '0;
      pidx <= '0;
      crc <= 16'hFFFF;
      if (err_valid) begin
        busy <= 1'b1;
        kind <= KindErr;
        seq  <= err_seq;
        code <= err_code;
      end else if (info_valid) begin
        busy <= 1'b1;
        kind <= KindInfo;
        seq  <= info_seq;
      end else if (res_valid) begin
        busy <= 1'b1;
        kind <= KindRes;
        seq  <= res_seq;
      end
      res_sr <= res_payload;
    end else if (tx_fire) begin
      idx <= idx + 1'b1;
      if (in_payload) begin
        pidx   <= pidx + 1'b1;
        res_sr <= res_sr >> 8;
      end
      if (is_crc_hi) busy <= 1'b0;
    end
  end

endmodule

`default_nettype wire
