// SPDX-License-Identifier: Apache-2.0
//
// gf_gate_seq: a logic gate network evaluated one gate per clock, from a program in
// a ROM beside it (the sequential form, docs/seq.md; gateflow.hdl.seq writes the
// program and the ROM).
//
// Every signal of the network (input bits, then each layer's gates) has a bit in a
// value memory of WORDS 16-bit words; the memory is kept twice (mem_a, mem_b), so
// that a gate reads its two operands in one clock. Both copies take every write.
// A sample is handled in three phases:
//   Load  the sample's IN_BITS bits are written into words 0 .. NIW-1, one word per
//         clock; s_axis_tready is high in the clock that writes the last word, so
//         the sample is taken after NIW clocks (s_axis_tdata is read while
//         s_axis_tvalid is high, as AXI-Stream holds it until the handshake). With
//         WORD_IN = 1 the sample arrives as NIW transfers of one 16-bit word each
//         instead (s_axis_tdata is the word; s_axis_tready is high during Load), so
//         a producer that makes the sample word by word (the time-multiplexed
//         engine's last stage) needs neither a sample register nor a multiplexer;
//   Run   the program runs from its first instruction, one per clock, through a
//         three-stage pipeline: fetch (the ROM's registered read), operand read (the
//         memories' registered reads), execute;
//   Out   m_axis_tvalid is high with the class index and scores until m_axis_tready.
//
// An instruction is {kind[2:0], op[3:0], b[AW-1:0], a[AW-1:0]}: a and b are the bit
// addresses (word * 16 + bit) of the gate's operands and op its gate number
// (gateflow.gates: output bit 3 - (2a + b) of op). Kinds:
//   0 Nop        nothing (the program puts one after each layer, so that the next
//                layer never reads a word in the clock it is written);
//   1 Write      the result goes to the next bit of the layer's output words: bits
//                fill a word from bit 0, the word is written at every result, and the
//                next word begins after bit 15;
//   2 WriteEnd   as Write, and the layer ends: the next layer begins a new word;
//   3 Count      the result is added to the current class's score;
//   4 CountEnd   as Count, and the class ends: its score is final, shifts into the
//                scores register and enters the running argmax (strictly greater
//                wins, so ties go to the lowest class index). The last class's
//                CountEnd is the program's last instruction.
// Unstalled, a program of N instructions gives a sample's result N + 3 clocks after
// its handshake, and takes a sample every N + NIW + 3 clocks.

`default_nettype none

module gf_gate_seq #(
    parameter int IN_BITS   = 64,  // with WORD_IN, 16 * the words of a sample
    parameter int WORD_IN   = 0,
    parameter int IN_WORDS  = 1,   // with WORD_IN: the words (transfers) of a sample
    parameter int N_INSTR   = 16,  // instructions in the program
    parameter int WORDS     = 8,   // value memory words (16 bits each), at least 2
    parameter int N_CLASSES = 10,
    parameter int SCORE_W   = 4,
    parameter int IDX_W     = 4,
    parameter int SCORES    = 1,
    parameter int OUT_WIDTH = IDX_W + ((SCORES != 0) ? N_CLASSES * SCORE_W : 0),
    parameter int AW        = $clog2(WORDS * 16),  // bit address width
    parameter int PCW       = (N_INSTR > 1) ? $clog2(N_INSTR) : 1,
    parameter int IW        = 7 + 2 * AW  // instruction width
) (
    input  wire logic                 clk,
    input  wire logic                 rst,
    input  wire logic                 s_axis_tvalid,
    output      logic                 s_axis_tready,
    input  wire logic [IN_BITS-1:0]   s_axis_tdata,
    output      logic                 m_axis_tvalid,
    input  wire logic                 m_axis_tready,
    output      logic [OUT_WIDTH-1:0] m_axis_tdata,
    // the program ROM: rom_data is the instruction at rom_addr one clock later
    output      logic [PCW-1:0]       rom_addr,
    input  wire logic [IW-1:0]        rom_data
);

  localparam int NIW = (WORD_IN != 0) ? IN_WORDS : (IN_BITS + 15) / 16;  // input words
  localparam int WA = AW - 4;  // word address width

  if (WORD_IN != 0 && IN_BITS != 16) begin : g_bad_word
    $fatal(1, "gf_gate_seq: with WORD_IN, s_axis_tdata is one 16-bit word (IN_BITS = 16)");
  end
  if (WORDS < 2 || WORDS < NIW || N_INSTR < 1 || N_CLASSES < 1) begin : g_bad_size
    $fatal(1, "gf_gate_seq: WORDS must be at least 2 and hold the input, N_INSTR and N_CLASSES at least 1");
  end
  if (AW != $clog2(WORDS * 16) || IW != 7 + 2 * AW) begin : g_bad_width
    $fatal(1, "gf_gate_seq: AW and IW follow from WORDS");
  end
  if (OUT_WIDTH != IDX_W + ((SCORES != 0) ? N_CLASSES * SCORE_W : 0)) begin : g_bad_out
    $fatal(1, "gf_gate_seq: OUT_WIDTH does not match IDX_W, N_CLASSES, SCORE_W and SCORES");
  end

  localparam logic [2:0] KNop = 3'd0;
  localparam logic [2:0] KWrite = 3'd1;
  localparam logic [2:0] KWriteEnd = 3'd2;
  localparam logic [2:0] KCount = 3'd3;
  localparam logic [2:0] KCountEnd = 3'd4;

  typedef enum logic [1:0] {
    Load,
    Run,
    Out
  } state_t;
  state_t state;

  // ---- the value memory, twice ------------------------------------------------------
  logic [15:0] mem_a[WORDS];
  logic [15:0] mem_b[WORDS];
  logic          we;
  logic [WA-1:0] wptr;  // Load: the input word; Run: the word the results go to
  logic [  15:0] wdata;
  logic [WA-1:0] ra, rb;
  logic [  15:0] rd_a, rd_b;
  always_ff @(posedge clk) begin
    if (we) mem_a[wptr] <= wdata;
    rd_a <= mem_a[ra];
  end
  always_ff @(posedge clk) begin
    if (we) mem_b[wptr] <= wdata;
    rd_b <= mem_b[rb];
  end

  // ---- fetch ------------------------------------------------------------------------
  logic [PCW-1:0] pc;
  logic fetching;  // rom_addr holds an instruction of this sample's program
  logic v1;  // rom_data holds one
  assign rom_addr = pc;

  // ---- operand read -----------------------------------------------------------------
  wire [AW-1:0] i_a = rom_data[AW-1:0];
  wire [AW-1:0] i_b = rom_data[2*AW-1:AW];
  assign ra = i_a[AW-1:4];
  assign rb = i_b[AW-1:4];
  logic [2:0] kind2;
  logic [3:0] op2, abit2, bbit2;

  // ---- execute ----------------------------------------------------------------------
  wire       bit_a = rd_a[abit2];
  wire       bit_b = rd_b[bbit2];
  wire       y = op2[2'd3-{bit_a, bit_b}];
  wire       is_write = kind2 == KWrite || kind2 == KWriteEnd;
  wire       is_count = kind2 == KCount || kind2 == KCountEnd;
  logic [15:0] acc;  // the output word being filled
  logic [ 3:0] wbit;
  wire  [15:0] word = acc | (16'(y) << wbit);

  logic [SCORE_W-1:0] cnt, best;
  wire  [SCORE_W-1:0] total = cnt + SCORE_W'(y);
  logic [  IDX_W-1:0] cls, idx;
  wire                last_class = cls == IDX_W'(N_CLASSES - 1);

  // the sample's input words, for Load
  wire last_word = wptr == WA'(NIW - 1);
  logic [15:0] in_data;
  if (WORD_IN != 0) begin : g_word_in
    assign in_data = s_axis_tdata[15:0];
    assign s_axis_tready = state == Load;
  end else begin : g_sample_in
    localparam int XW = (NIW > 1) ? $clog2(NIW) : 1;
    wire  [NIW*16-1:0] in_bits = (NIW * 16)'(s_axis_tdata);
    logic [      15:0] in_word[NIW];
    for (genvar i = 0; i < NIW; i++) begin : g_in_word
      assign in_word[i] = in_bits[i*16+:16];
    end
    /* verilator lint_off UNUSEDSIGNAL */
    wire [WA-1:0] in_index = wptr;  // below NIW during Load
    /* verilator lint_on UNUSEDSIGNAL */
    assign in_data = in_word[in_index[XW-1:0]];
    assign s_axis_tready = state == Load && last_word;
  end
  assign we = (state == Load) ? s_axis_tvalid : is_write;
  assign wdata = (state == Load) ? in_data : word;

  always_ff @(posedge clk) begin
    v1    <= fetching;
    kind2 <= v1 ? rom_data[2*AW+6:2*AW+4] : KNop;
    op2   <= rom_data[2*AW+3:2*AW];
    abit2 <= i_a[3:0];
    bbit2 <= i_b[3:0];
    if (rst) begin
      state    <= Load;
      wptr     <= '0;
      pc       <= '0;
      fetching <= 1'b0;
      v1       <= 1'b0;
      kind2    <= KNop;
    end else begin
      case (state)
        Load: begin
          if (s_axis_tvalid) wptr <= wptr + 1'b1;  // after the last word: the first gate word
          if (s_axis_tvalid && s_axis_tready && last_word) begin
            state    <= Run;
            pc       <= '0;
            fetching <= 1'b1;
            acc      <= '0;
            wbit     <= '0;
            cnt      <= '0;
            cls      <= '0;
          end
        end
        Run: begin
          if (fetching) begin
            pc <= pc + 1'b1;
            if (pc == PCW'(N_INSTR - 1)) fetching <= 1'b0;
          end
          if (is_write) begin
            if (wbit == 4'd15 || kind2 == KWriteEnd) begin
              acc  <= '0;
              wbit <= '0;
              wptr <= wptr + 1'b1;
            end else begin
              acc  <= word;
              wbit <= wbit + 1'b1;
            end
          end
          if (is_count) begin
            if (kind2 == KCountEnd) begin
              cnt <= '0;
              cls <= cls + 1'b1;
              if (cls == '0 || total > best) begin
                best <= total;
                idx  <= cls;
              end
              if (last_class) state <= Out;
            end else begin
              cnt <= total;
            end
          end
        end
        default: begin  // Out
          if (m_axis_tready) begin
            state <= Load;
            wptr  <= '0;
          end
        end
      endcase
    end
  end

  assign m_axis_tvalid = state == Out;
  if (SCORES != 0) begin : g_scores
    // class c's score ends at m_axis_tdata[IDX_W + c*SCORE_W +: SCORE_W]: each final
    // score enters at the top, so after the last class class 0 sits lowest
    logic [N_CLASSES*SCORE_W-1:0] scores;
    if (N_CLASSES > 1) begin : g_shift
      always_ff @(posedge clk)
        if (state == Run && kind2 == KCountEnd)
          scores <= {total, scores[N_CLASSES*SCORE_W-1:SCORE_W]};
    end else begin : g_one
      always_ff @(posedge clk) if (state == Run && kind2 == KCountEnd) scores <= total;
    end
    assign m_axis_tdata = {scores, idx};
  end else begin : g_index
    assign m_axis_tdata = idx;
  end

endmodule

`default_nettype wire
