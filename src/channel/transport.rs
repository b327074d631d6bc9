//! Transport models: how long a payload takes to cross a link once a protocol carries it.
//!
//! - [`Transport::Naive`]: the payload's bits at the link's rate (`bytes * 8 / rate`), plus
//!   the optional per-packet overhead of the channel spec. What most split-computing papers
//!   charge.
//! - [`Transport::Tcp`]: TCP over IPv4 as a real connection sends it. The payload is cut into
//!   segments of [`Tcp::mss`] bytes, each carrying [`Tcp::hdr`] header bytes on the wire (20
//!   IP + 20 TCP + 12 timestamp option = 52 for Linux's default MSS of 1448 on a 1500-byte
//!   MTU). The sender's window starts at [`Tcp::initial_window`] segments (10 since RFC 6928)
//!   and doubles per round trip (slow start, RFC 5681); after a round of `w` segments the
//!   sender waits for the first segment's acknowledgement, one RTT after that segment crossed
//!   the link, if sending the round took less than that. This is the round model of Cardwell,
//!   Savage and Anderson, "Modeling TCP Latency" (INFOCOM 2000), for IW = 10 and no loss:
//!   `T = N tau + sum_k max(0, RTT + tau - w_k tau)` on a constant-rate link. On a varying link
//!   (a trace) the same rounds run against the link's delivery function.
//!
//! Either way the time returned is the **transfer** time; the cost model adds the RTT of the
//! request/reply exchange once. [`Window::New`] adds one more RTT for the handshake.
//!
//! Which window a request meets depends on the connection and the kernel: a new connection
//! starts at IW; Linux with `net.ipv4.tcp_slow_start_after_idle = 1` and a classic congestion
//! control (cubic, reno) restarts slow start after an idle period of one RTO, so periodic
//! inferences meet IW again ([`Window::Cold`], the study's default); BBR keeps its window over
//! idle periods, and a busy connection has an open window ([`Window::Warm`], or
//! [`Window::Segments`] with the window a live connection reports).

use std::fmt;

/// Linux's default MSS on a 1500-byte MTU with TCP timestamps.
pub const TCP_MSS: u64 = 1448;
/// IPv4 + TCP + timestamp option header bytes per segment.
pub const TCP_HDR: u64 = 52;
/// The initial window of RFC 6928, segments.
pub const TCP_INITIAL_WINDOW: u64 = 10;

/// The sender's congestion window when a request starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Slow start from the initial window (a connection restarted after idle).
    Cold,
    /// The window is already open wide enough: no slow-start rounds.
    Warm,
    /// A new connection: one RTT of handshake, then slow start from the initial window.
    New,
    /// Slow start from this many segments (e.g. `snd_cwnd` of a live connection).
    Segments(u64),
}

impl Window {
    /// The spec value: `cold`, `warm`, `new` or a number of segments.
    pub fn parse(s: &str) -> Option<Window> {
        match s {
            "cold" => Some(Window::Cold),
            "warm" => Some(Window::Warm),
            "new" => Some(Window::New),
            n => n
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .map(Window::Segments),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Cold => f.write_str("cold"),
            Window::Warm => f.write_str("warm"),
            Window::New => f.write_str("new"),
            Window::Segments(n) => write!(f, "{n}"),
        }
    }
}

/// TCP's segmentation and slow start (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    /// Payload bytes per segment.
    pub mss: u64,
    /// Header bytes per segment on the wire.
    pub hdr: u64,
    /// Initial window, segments.
    pub initial_window: u64,
    /// The window a request meets.
    pub window: Window,
}

impl Default for Tcp {
    fn default() -> Self {
        Self {
            mss: TCP_MSS,
            hdr: TCP_HDR,
            initial_window: TCP_INITIAL_WINDOW,
            window: Window::Cold,
        }
    }
}

impl Tcp {
    /// Segments of a payload of `bytes`.
    pub fn segments(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.mss)
    }

    /// Wire bytes of segments `from..to` of a `bytes` payload (the last one may be short).
    fn wire_bytes(&self, bytes: u64, from: u64, to: u64) -> u64 {
        let payload = (to * self.mss).min(bytes) - (from * self.mss).min(bytes);
        payload + (to - from) * self.hdr
    }

    /// Transfer time of `bytes` in ms, on a link whose `deliver(start_ms, wire_bytes)` gives
    /// the time the last of `wire_bytes` leaves the link when they start at `start_ms`, with
    /// `rtt_ms` round trip (see the module docs; 0 for an empty payload).
    pub fn transfer_ms(&self, bytes: u64, rtt_ms: f64, deliver: impl Fn(f64, u64) -> f64) -> f64 {
        let n = self.segments(bytes);
        if n == 0 {
            return 0.0;
        }
        let (mut t, mut cwnd) = match self.window {
            Window::Cold => (0.0, self.initial_window),
            Window::New => (rtt_ms, self.initial_window),
            Window::Warm => (0.0, n),
            Window::Segments(w) => (0.0, w),
        };
        let mut sent = 0;
        loop {
            let k = cwnd.max(1).min(n - sent);
            let end = deliver(t, self.wire_bytes(bytes, sent, sent + k));
            if sent + k == n {
                return end;
            }
            // The round's first segment is acknowledged one RTT after it crossed the link.
            let first = deliver(t, self.wire_bytes(bytes, sent, sent + 1));
            t = end.max(first + rtt_ms);
            sent += k;
            cwnd = cwnd.saturating_mul(2);
        }
    }
}

/// How a payload crosses a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    /// Bits at the link rate (plus the channel's optional per-packet overhead).
    #[default]
    Naive,
    /// TCP (see [`Tcp`]).
    Tcp(Tcp),
}

impl Transport {
    /// The spec name: `naive`, `tcp` or `tcp-<window>` (e.g. `tcp-warm`).
    pub fn name(&self) -> String {
        match self {
            Transport::Naive => "naive".into(),
            Transport::Tcp(t) if t.window == Window::Cold => "tcp".into(),
            Transport::Tcp(t) => format!("tcp-{}", t.window),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A constant-rate link: `mbps` Mbit/s.
    fn rate(mbps: f64) -> impl Fn(f64, u64) -> f64 {
        move |t, b| t + b as f64 * 8.0 / (mbps * 1e3)
    }

    #[test]
    fn one_window_is_serialization_only() {
        let tcp = Tcp::default();
        // 10 full segments = 15,000 wire bytes at 12 Mbit/s = 10 ms, whatever the RTT.
        let b = 10 * TCP_MSS;
        assert!((tcp.transfer_ms(b, 80.0, rate(12.0)) - 10.0).abs() < 1e-9);
        assert_eq!(tcp.transfer_ms(0, 80.0, rate(12.0)), 0.0);
    }

    #[test]
    fn slow_start_stalls_follow_cardwell() {
        // 100 segments at 12 Mbit/s (tau = 1 ms per 1500-byte packet), RTT 40 ms:
        // rounds of 10, 20, 40, 30 segments; stalls max(0, 40 + 1 - w) = 31, 21, 1.
        let tcp = Tcp::default();
        let got = tcp.transfer_ms(100 * TCP_MSS, 40.0, rate(12.0));
        assert!((got - (100.0 + 31.0 + 21.0 + 1.0)).abs() < 1e-9, "{got}");
        // A warm window pays no stall; a new connection one RTT more than cold.
        let warm = Tcp {
            window: Window::Warm,
            ..tcp
        };
        assert!((warm.transfer_ms(100 * TCP_MSS, 40.0, rate(12.0)) - 100.0).abs() < 1e-9);
        let new = Tcp {
            window: Window::New,
            ..tcp
        };
        assert!((new.transfer_ms(100 * TCP_MSS, 40.0, rate(12.0)) - got - 40.0).abs() < 1e-9);
    }

    #[test]
    fn the_last_segment_may_be_short() {
        // 1449 bytes: a full segment and one of 1 byte, 1500 + 53 wire bytes.
        let tcp = Tcp::default();
        assert_eq!(tcp.wire_bytes(1449, 0, 2), 1500 + 53);
        let ms = tcp.transfer_ms(1449, 0.0, rate(8.0));
        assert!((ms - 1553.0 * 8.0 / 8e3).abs() < 1e-9);
    }

    #[test]
    fn windows_parse_and_print() {
        for w in ["cold", "warm", "new", "24"] {
            assert_eq!(Window::parse(w).unwrap().to_string(), w);
        }
        assert_eq!(Window::parse("0"), None);
        assert_eq!(Transport::Tcp(Tcp::default()).name(), "tcp");
    }
}

/// Protocol overhead: every started packet of `mss_bytes` payload carries `hdr_bytes` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overhead {
    /// Payload bytes per packet (maximum segment size).
    pub mss_bytes: u64,
    /// Header bytes per packet.
    pub hdr_bytes: u64,
}

impl Overhead {
    /// Bytes on the wire for `payload_bytes` of payload: `payload + ceil(payload / mss) * hdr`.
    pub fn wire_bytes(&self, payload_bytes: u64) -> u64 {
        payload_bytes.saturating_add(
            payload_bytes
                .div_ceil(self.mss_bytes)
                .saturating_mul(self.hdr_bytes),
        )
    }
}
