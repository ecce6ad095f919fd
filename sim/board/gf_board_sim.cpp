// SPDX-License-Identifier: Apache-2.0
//
// gf_board_sim: the board top (gf_board_top around a generated core) under
// Verilator, its UART pins bridged bit by bit to a pseudo terminal.
//
// The host opens the pseudo terminal as it would a USB serial port. Bytes the
// host writes are shifted into uart_rx as 8N1 symbols of CLKS_PER_BIT clocks,
// back to back; uart_tx is sampled in the middle of every bit and each byte
// with a good stop bit is written back to the host (a bad stop bit drops the
// byte, as a UART reports a framing error). The RTL does all the protocol work.
//
// Usage: gf_board_sim --clks-per-bit N [--clk-hz F] [--quiet-bits N] [--reset-clks N]
//
//   --clk-hz F      pace the simulation to F clocks per wall-clock second, so the
//                   link runs at the board's baud rate; 0 (default) runs as fast
//                   as the simulation goes
//   --quiet-bits N  after N bit periods without any line activity the clock stops
//                   until the host sends again (the board is then idle; default 200)
//   --reset-clks N  clocks ext_rst is held high after SIGUSR1 (default 16)
//
// On start it prints "pty <path>" on stdout. SIGUSR1 pulses ext_rst (a board
// reset); SIGUSR2 prints "stats cycles=.. to_board=.. from_board=.. framing=..
// resets=.. freezes=.." on stdout (freezes: idle waits with the clock stopped).
// It exits on SIGTERM/SIGINT, or when stdin reaches end of file (its parent went
// away; checked while the board is idle).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "Vgf_board_top.h"
#include "verilated.h"

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_reset = 0;
volatile sig_atomic_t g_stats = 0;

void on_stop(int) { g_stop = 1; }
void on_reset(int) { g_reset = 1; }
void on_stats(int) { g_stats = 1; }

void install(int sig, void (*fn)(int)) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a signal wakes poll()
  sigaction(sig, &sa, nullptr);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "gf_board_sim: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

uint64_t arg_u64(int argc, char** argv, const char* name, uint64_t dflt) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::strtoull(argv[i + 1], nullptr, 10);
  }
  return dflt;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Host -> board: 8N1 symbols on uart_rx.
struct LineOut {
  uint32_t cpb;
  uint16_t symbol = 0;  // bits still to send, LSB first
  uint32_t bits_left = 0;
  uint32_t clk_in_bit = 0;
  bool level = true;

  bool busy() const { return bits_left != 0; }
  void load(uint8_t byte) {
    symbol = static_cast<uint16_t>((1u << 9) | (static_cast<uint16_t>(byte) << 1));  // stop, data, start
    bits_left = 10;
    clk_in_bit = 0;
    level = symbol & 1u;
  }
  // Called once per clock, before the clock edge; returns the pin level.
  bool step() {
    if (!bits_left) return level = true;
    level = symbol & 1u;
    if (++clk_in_bit == cpb) {
      clk_in_bit = 0;
      symbol >>= 1;
      --bits_left;
    }
    return level;
  }
};

// Board -> host: samples uart_tx in the middle of every bit.
struct LineIn {
  uint32_t cpb;
  enum { Idle, Start, Data, Stop } state = Idle;
  uint32_t cnt = 0;
  uint32_t bitn = 0;
  uint8_t shreg = 0;
  uint64_t framing = 0;

  bool busy() const { return state != Idle; }
  // Called once per clock with the pin level; returns true with `out` set for a byte.
  bool step(bool tx, uint8_t& out) {
    switch (state) {
      case Idle:
        if (!tx) {
          state = Start;
          cnt = cpb / 2;
        }
        return false;
      case Start:
        if (--cnt) return false;
        if (tx) {
          state = Idle;  // a glitch
          return false;
        }
        state = Data;
        cnt = cpb;
        bitn = 0;
        return false;
      case Data:
        if (--cnt) return false;
        shreg = static_cast<uint8_t>((shreg >> 1) | (tx ? 0x80 : 0));
        cnt = cpb;
        if (++bitn == 8) state = Stop;
        return false;
      case Stop:
        if (--cnt) return false;
        state = Idle;
        if (!tx) {
          ++framing;
          return false;
        }
        out = shreg;
        return true;
    }
    return false;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const uint64_t cpb = arg_u64(argc, argv, "--clks-per-bit", 0);
  const uint64_t clk_hz = arg_u64(argc, argv, "--clk-hz", 0);
  const uint64_t quiet_bits = arg_u64(argc, argv, "--quiet-bits", 200);
  const uint64_t reset_clks = arg_u64(argc, argv, "--reset-clks", 16);
  if (cpb < 4) {
    std::fprintf(stderr, "gf_board_sim: --clks-per-bit N (N >= 4) is required\n");
    return 2;
  }
  const uint64_t quiet_clks = quiet_bits * cpb;
  const int kBatch = 64;  // clocks between two looks at the pseudo terminal

  install(SIGTERM, on_stop);
  install(SIGINT, on_stop);
  install(SIGHUP, on_stop);
  install(SIGUSR1, on_reset);
  install(SIGUSR2, on_stats);
  signal(SIGPIPE, SIG_IGN);

  // The pseudo terminal: the host opens the slave; this side keeps one slave fd open
  // (raw mode) so that the master never sees a hang-up between two host sessions.
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) die("posix_openpt");
  if (grantpt(master) != 0 || unlockpt(master) != 0) die("grantpt/unlockpt");
  const char* slave_name = ptsname(master);
  if (!slave_name) die("ptsname");
  const std::string slave_path(slave_name);
  int slave = open(slave_path.c_str(), O_RDWR | O_NOCTTY);
  if (slave < 0) die("open slave");
  struct termios tio;
  if (tcgetattr(slave, &tio) != 0) die("tcgetattr");
  cfmakeraw(&tio);
  if (tcsetattr(slave, TCSANOW, &tio) != 0) die("tcsetattr");
  if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) != 0) die("fcntl");

  auto ctx = std::make_unique<VerilatedContext>();
  ctx->commandArgs(1, argv);
  auto top = std::make_unique<Vgf_board_top>(ctx.get());
  top->clk = 0;
  top->ext_rst = 0;
  top->uart_rx = 1;
  top->eval();

  std::printf("pty %s\n", slave_path.c_str());
  std::fflush(stdout);

  LineOut line_out{static_cast<uint32_t>(cpb)};
  LineIn line_in{static_cast<uint32_t>(cpb)};
  std::deque<uint8_t> to_board;
  std::vector<uint8_t> to_host;
  uint8_t buf[4096];
  uint64_t cycles = 0, n_to_board = 0, n_from_board = 0, resets = 0, freezes = 0;
  uint64_t last_activity = 0, rst_left = 0;
  bool stdin_open = true;

  auto ref_time = Clock::now();
  uint64_t ref_cycles = 0;

  while (!g_stop) {
    for (int i = 0; i < kBatch; ++i) {
      if (!line_out.busy() && !to_board.empty()) {
        line_out.load(to_board.front());
        to_board.pop_front();
        ++n_to_board;
      }
      top->uart_rx = line_out.step();
      top->ext_rst = rst_left != 0;
      if (rst_left) --rst_left;
      top->clk = 1;
      top->eval();
      top->clk = 0;
      top->eval();
      ++cycles;
      uint8_t byte;
      if (line_in.step(top->uart_tx, byte)) {
        to_host.push_back(byte);
        ++n_from_board;
      }
      if (line_out.busy() || line_in.busy() || rst_left) last_activity = cycles;
    }

    if (g_reset) {
      g_reset = 0;
      rst_left = reset_clks;
      ++resets;
      last_activity = cycles;
    }
    if (g_stats) {
      g_stats = 0;
      std::printf(
          "stats cycles=%llu to_board=%llu from_board=%llu framing=%llu resets=%llu "
          "freezes=%llu\n",
                  static_cast<unsigned long long>(cycles),
                  static_cast<unsigned long long>(n_to_board),
                  static_cast<unsigned long long>(n_from_board),
                  static_cast<unsigned long long>(line_in.framing),
                  static_cast<unsigned long long>(resets),
                  static_cast<unsigned long long>(freezes));
      std::fflush(stdout);
    }

    if (to_board.size() < 256) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) {
        to_board.insert(to_board.end(), buf, buf + n);
        last_activity = cycles;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != EIO) {
        die("read");
      }
    }
    if (!to_host.empty()) {
      ssize_t n = write(master, to_host.data(), to_host.size());
      if (n > 0) {
        to_host.erase(to_host.begin(), to_host.begin() + n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != EIO) {
        die("write");
      }
    }

    const bool quiet = to_board.empty() && !line_out.busy() && !line_in.busy() && !rst_left &&
                       cycles - last_activity >= quiet_clks;
    if (quiet) {
      // The board has been idle long enough for every timer that matters (the frame
      // receiver's timeout, the result pipeline) to have run out: stop the clock
      // until the host sends something.
      struct pollfd fds[2];
      fds[0] = {master, static_cast<short>(POLLIN | (to_host.empty() ? 0 : POLLOUT)), 0};
      fds[1] = {STDIN_FILENO, POLLIN, 0};
      ++freezes;
      int r = poll(fds, stdin_open ? 2 : 1, 200);
      if (r > 0 && stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0) break;  // the parent closed our stdin: it is gone
        if (n < 0 && errno != EINTR && errno != EAGAIN) stdin_open = false;
      }
      ref_time = Clock::now();
      ref_cycles = cycles;
      continue;
    }
    if (clk_hz) {
      // Real time: never run ahead of the wall clock by more than a millisecond.
      const double ahead = static_cast<double>(cycles - ref_cycles) / static_cast<double>(clk_hz) -
                           seconds_since(ref_time);
      if (ahead > 1e-3) {
        // Sleep, but wake for the host's bytes when there is room for them.
        struct pollfd fd = {master, POLLIN, 0};
        poll(&fd, to_board.size() < 256 ? 1 : 0, static_cast<int>(ahead * 1e3));
      } else if (ahead < -0.05) {
        // Too slow for real time: do not try to catch up on a backlog.
        ref_time = Clock::now();
        ref_cycles = cycles;
      }
    }
  }

  top->final();
  close(slave);
  close(master);
  return 0;
}
