// SPDX-License-Identifier: Apache-2.0
//
// gf_frame_rx: the receiving half of the board's wire protocol (docs/protocol.md).
//
// Takes the bytes of gf_uart_rx and parses frames
//   SOF(0xA5) TYPE SEQ LEN_LO LEN_HI PAYLOAD[LEN] CRC_LO CRC_HI.
// Outside a frame every byte but a good SOF is ignored. Inside a frame:
//   - a byte with a bad stop bit ends the frame with UART_FRAMING;
//   - no byte for TIMEOUT_BITS bit periods ends it with TRUNCATED;
//   - LEN above SAMPLE_BYTES (the largest payload the board takes) ends it
//     with BAD_LENGTH as soon as LEN_HI arrives;
//   - otherwise the whole frame is read and, at CRC_HI, checked in this order:
//     CRC (BAD_CRC), TYPE (BAD_TYPE), LEN for the TYPE (BAD_LENGTH), and for
//     INFER whether the sample can be taken (BUSY), for INFO whether the reply
//     register is free (BUSY).
// Every error pulses err_valid for one clock with its code and the frame's SEQ
// (0 when the frame ended before its SEQ byte); the parser then hunts for SOF.
//
// Payload bytes shift into the sample register from the top, so after
// SAMPLE_BYTES bytes byte 0 sits in smp_data[7:0]: bit i of the sample is bit
// i % 8 of payload byte i / 8. A good INFER raises smp_valid with smp_seq and
// holds it until smp_ready. The next frame's payload cannot arrive before
// several byte periods have passed, long after the consumer (which never
// stalls for more than a few clocks) has taken the sample; a good INFER that
// completes while smp_valid is still high is answered with BUSY.
// A good INFO pulses info_req with info_seq.

`default_nettype none

module gf_frame_rx #(
    parameter int CLKS_PER_BIT = 104,
    parameter int TIMEOUT_BITS = 40,
    parameter int SAMPLE_BYTES = 8  // LEN of an INFER frame
) (
    input  wire logic                      clk,
    input  wire logic                      rst,

    // bytes from gf_uart_rx
    input  wire logic                      byte_valid,
    input  wire logic [               7:0] byte_data,
    input  wire logic                      byte_frame_err,

    // good INFER frames
    output      logic                      smp_valid,
    input  wire logic                      smp_ready,
    output      logic [SAMPLE_BYTES*8-1:0] smp_data,
    output      logic [               7:0] smp_seq,
    input  wire logic                      smp_busy,   // no room for another sample

    // good INFO frames
    output      logic                      info_req,
    output      logic [               7:0] info_seq,
    input  wire logic                      info_busy,  // the previous INFO is not answered yet

    // errors
    output      logic                      err_valid,
    output      logic [               2:0] err_code,
    output      logic [               7:0] err_seq
);

  if (SAMPLE_BYTES < 1 || SAMPLE_BYTES > 65535) begin : g_bad_len
    $fatal(1, "gf_frame_rx: SAMPLE_BYTES must be 1..65535");
  end
  if (TIMEOUT_BITS < 11) begin : g_bad_timeout
    $fatal(1, "gf_frame_rx: TIMEOUT_BITS must exceed one byte (10 bit periods)");
  end

  // protocol constants: the same values as gateflow.protocol (tests/test_protocol_rtl.py)
  localparam logic [7:0] Sof = 8'hA5;
  localparam logic [7:0] TypeInfer = 8'h01;
  localparam logic [7:0] TypeInfo = 8'h02;

  localparam logic [2:0] ErrBadCrc = 3'd1;
  localparam logic [2:0] ErrBadLength = 3'd2;
  localparam logic [2:0] ErrBadType = 3'd3;
  localparam logic [2:0] ErrTruncated = 3'd4;
  localparam logic [2:0] ErrBusy = 3'd5;
  localparam logic [2:0] ErrFraming = 3'd6;

  localparam int TimeoutClks = TIMEOUT_BITS * CLKS_PER_BIT;
  localparam int TW = $clog2(TimeoutClks);
  localparam logic [TW-1:0] TimeoutLast = TW'(TimeoutClks - 1);
  localparam int LW = $clog2(SAMPLE_BYTES + 1);  // a payload byte count 0..SAMPLE_BYTES
  localparam logic [15:0] SampleLen = 16'(SAMPLE_BYTES);

  typedef enum logic [2:0] {
    Hunt,
    Type,
    Seq,
    LenLo,
    LenHi,
    Payload,
    CrcLo,
    CrcHi
  } state_t;

  state_t state;
  logic [TW-1:0] timer;  // clocks left before an inter-byte timeout
  logic [15:0] crc;
  logic [15:0] crc_next;
  logic is_infer, is_info;  // the TYPE byte
  logic [7:0] seq;
  logic [7:0] len_lo;
  // LEN_LO compared with the sample length when it arrives, so that LenHi only
  // compares one byte with constants (no 16-bit comparator after the UART).
  logic lo_gt, lo_eq, lo_zero;
  logic len_ok;  // LEN is right for the TYPE
  logic [LW-1:0] remaining;  // payload bytes still to come
  logic crc_lo_ok;

  gf_crc16 u_crc (.crc_in(crc), .data(byte_data), .crc_out(crc_next));

  wire byte_ok = byte_valid && !byte_frame_err;
  /* verilator lint_off UNUSEDSIGNAL */
  wire [15:0] len = {byte_data, len_lo};  // valid in LenHi; only its low LW bits are kept
  /* verilator lint_on UNUSEDSIGNAL */
  localparam logic [7:0] SampleHi = SampleLen[15:8];
  wire len_gt = byte_data > SampleHi || (byte_data == SampleHi && lo_gt);
  wire len_is_sample = byte_data == SampleHi && lo_eq;
  wire len_zero = byte_data == 8'd0 && lo_zero;
  wire seq_known = state > Seq;  // the frame's SEQ byte has been received
  wire crc_ok = crc_lo_ok && (byte_data == crc[15:8]);  // valid in CrcHi

  // The payload shift register: each payload byte enters at the top.
  wire shift = byte_valid && !byte_frame_err && state == Payload;
  if (SAMPLE_BYTES == 1) begin : g_one_byte
    always_ff @(posedge clk) if (shift) smp_data <= byte_data;
  end else begin : g_shift
    always_ff @(posedge clk) if (shift) smp_data <= {byte_data, smp_data[SAMPLE_BYTES*8-1:8]};
  end

  assign smp_seq  = seq;
  assign info_seq = seq;

  always_ff @(posedge clk) begin
    err_valid <= 1'b0;
    info_req  <= 1'b0;
    if (rst) begin
      state     <= Hunt;
      smp_valid <= 1'b0;
    end else begin
      if (smp_valid && smp_ready) smp_valid <= 1'b0;

      if (state != Hunt) timer <= timer - 1'b1;
      if (byte_valid) timer <= TimeoutLast;

      if (state == Hunt) begin
        if (byte_ok && byte_data == Sof) begin
          state <= Type;
          crc   <= 16'hFFFF;
        end
      end else if (byte_valid && byte_frame_err) begin
        err_valid <= 1'b1;
        err_code  <= ErrFraming;
        err_seq   <= seq_known ? seq : 8'd0;
        state     <= Hunt;
      end else if (!byte_valid && timer == '0) begin
        err_valid <= 1'b1;
        err_code  <= ErrTruncated;
        err_seq   <= seq_known ? seq : 8'd0;
        state     <= Hunt;
      end else if (byte_valid) begin
        if (state < CrcLo) crc <= crc_next;
        case (state)
          Type: begin
            is_infer <= byte_data == TypeInfer;
            is_info  <= byte_data == TypeInfo;
            state    <= Seq;
          end
          Seq: begin
            seq   <= byte_data;
            state <= LenLo;
          end
          LenLo: begin
            len_lo  <= byte_data;
            lo_gt   <= byte_data > SampleLen[7:0];
            lo_eq   <= byte_data == SampleLen[7:0];
            lo_zero <= byte_data == 8'd0;
            state   <= LenHi;
          end
          LenHi: begin
            len_ok    <= (is_infer && len_is_sample) || (is_info && len_zero);
            remaining <= LW'(len);
            if (len_gt) begin
              err_valid <= 1'b1;
              err_code  <= ErrBadLength;
              err_seq   <= seq;
              state     <= Hunt;
            end else begin
              state <= len_zero ? CrcLo : Payload;
            end
          end
          Payload: begin
            remaining <= remaining - 1'b1;
            if (remaining == LW'(1)) state <= CrcLo;
          end
          CrcLo: begin
            crc_lo_ok <= byte_data == crc[7:0];
            state     <= CrcHi;
          end
          default: begin  // CrcHi: the frame is complete
            state   <= Hunt;
            err_seq <= seq;
            if (!crc_ok) begin
              err_valid <= 1'b1;
              err_code  <= ErrBadCrc;
            end else if (!is_infer && !is_info) begin
              err_valid <= 1'b1;
              err_code  <= ErrBadType;
            end else if (!len_ok) begin
              err_valid <= 1'b1;
              err_code  <= ErrBadLength;
            end else if (is_infer) begin
              if (smp_busy || smp_valid) begin
                err_valid <= 1'b1;
                err_code  <= ErrBusy;
              end else begin
                smp_valid <= 1'b1;
              end
            end else if (info_busy) begin
              err_valid <= 1'b1;
              err_code  <= ErrBusy;
            end else begin
              info_req <= 1'b1;
            end
          end
        endcase
      end
    end
  end

endmodule

`default_nettype wire
