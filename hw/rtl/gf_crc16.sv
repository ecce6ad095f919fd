// SPDX-License-Identifier: Apache-2.0
//
// gf_crc16: one byte of CRC-16/CCITT-FALSE, combinational.
//
// crc_out is the CRC register after shifting `data` (most significant bit
// first) into crc_in: polynomial 0x1021, not reflected. A frame's CRC starts
// from 16'hFFFF and has no final XOR, so feeding the bytes of "123456789" one
// after another from 16'hFFFF ends at 16'h29B1.

`default_nettype none

module gf_crc16 (
    input  wire logic [15:0] crc_in,
    input  wire logic [ 7:0] data,
    output      logic [15:0] crc_out
);

  localparam logic [15:0] Poly = 16'h1021;

  always_comb begin
    crc_out = crc_in;
    for (int i = 7; i >= 0; i--) begin
      if (crc_out[15] ^ data[i]) crc_out = {crc_out[14:0], 1'b0} ^ Poly;
      else crc_out = {crc_out[14:0], 1'b0};
    end
  end

endmodule

`default_nettype wire
