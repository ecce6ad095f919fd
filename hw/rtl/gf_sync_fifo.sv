// SPDX-License-Identifier: Apache-2.0
//
// gf_sync_fifo: synchronous first-word-fall-through FIFO, DEPTH entries of WIDTH bits.
//
// AXI-Stream style on both sides: s_ready is high while fewer than DEPTH
// entries are held; m_valid is high while the head entry is on m_data, which
// holds until it is taken (m_valid && m_ready). Any DEPTH >= 1.
//
// The entries live in a memory with one write port and one registered read
// port, whose register holds the head, so synthesis can map it to block RAM
// (BLOCK_RAM = 1 asks for that; 0 leaves the choice to the tool). An entry
// written into an empty FIFO reaches m_data two clocks after its handshake.
// The read port never reads the address that is being written (it reads only
// entries already in the memory, and a full memory refuses writes), so the
// memory is marked no_rw_check: no read-during-write logic is needed.
// Synchronous active-high reset empties the FIFO; the data is not reset.

`default_nettype none

module gf_sync_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 8,
    parameter int BLOCK_RAM = 1
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic             s_valid,
    output      logic             s_ready,
    input  wire logic [WIDTH-1:0] s_data,

    output      logic             m_valid,
    input  wire logic             m_ready,
    output      logic [WIDTH-1:0] m_data
);

  if (WIDTH < 1 || DEPTH < 1) begin : g_bad_size
    $fatal(1, "gf_sync_fifo: WIDTH and DEPTH must be at least 1");
  end

  localparam int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  localparam int CW = $clog2(DEPTH + 1);
  localparam logic [AW-1:0] AddrLast = AW'(DEPTH - 1);
  localparam logic [CW-1:0] Full = CW'(DEPTH);

  logic [AW-1:0] wr_ptr, rd_ptr;
  logic [CW-1:0] count;  // entries held: in the memory plus the output register
  logic out_valid;

  logic push, pop, load;
  assign s_ready = count != Full;
  assign m_valid = out_valid;
  assign push = s_valid && s_ready;
  assign pop = out_valid && m_ready;
  // The memory holds count - out_valid entries.
  assign load = (count != CW'(out_valid)) && (!out_valid || pop);

  if (BLOCK_RAM != 0) begin : g_block
    (* ram_style = "block", no_rw_check *) logic [WIDTH-1:0] mem[DEPTH];
    always_ff @(posedge clk) if (push) mem[wr_ptr] <= s_data;
    always_ff @(posedge clk) if (load) m_data <= mem[rd_ptr];
  end else begin : g_any
    (* no_rw_check *) logic [WIDTH-1:0] mem[DEPTH];
    always_ff @(posedge clk) if (push) mem[wr_ptr] <= s_data;
    always_ff @(posedge clk) if (load) m_data <= mem[rd_ptr];
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      wr_ptr    <= '0;
      rd_ptr    <= '0;
      count     <= '0;
      out_valid <= 1'b0;
    end else begin
      if (push) wr_ptr <= (wr_ptr == AddrLast) ? '0 : wr_ptr + 1'b1;
      if (load) rd_ptr <= (rd_ptr == AddrLast) ? '0 : rd_ptr + 1'b1;
      if (push && !pop) count <= count + 1'b1;
      else if (pop && !push) count <= count - 1'b1;
      if (load) out_valid <= 1'b1;
      else if (pop) out_valid <= 1'b0;
    end
  end

endmodule

`default_nettype wire
