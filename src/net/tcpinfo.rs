//! What the kernel knows about a TCP connection and about how it treats idle connections:
//! `TCP_INFO` (smoothed RTT, congestion window, retransmissions) and the sysctls that decide
//! whether a window survives an idle gap. Linux only; elsewhere the values are absent.

use std::net::TcpStream;

/// A connection's state as `TCP_INFO` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct TcpInfo {
    /// Smoothed round-trip time, ms.
    pub rtt_ms: f64,
    /// Congestion window, segments.
    pub cwnd: u32,
    /// Retransmitted segments over the connection's life.
    pub retrans: u32,
}

/// The connection's `TCP_INFO`, or `None` where the platform has none.
#[cfg(target_os = "linux")]
pub fn tcp_info(s: &TcpStream) -> Option<TcpInfo> {
    use std::os::fd::AsRawFd;
    // SAFETY: getsockopt writes at most `len` bytes into `info`, a plain C struct for which
    // all-zero bytes are a valid value; `len` is its size.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        (rc == 0).then(|| TcpInfo {
            rtt_ms: info.tcpi_rtt as f64 / 1e3,
            cwnd: info.tcpi_snd_cwnd,
            retrans: info.tcpi_total_retrans,
        })
    }
}

/// The connection's `TCP_INFO`, or `None` where the platform has none.
#[cfg(not(target_os = "linux"))]
pub fn tcp_info(_: &TcpStream) -> Option<TcpInfo> {
    None
}

/// How this host's kernel treats TCP over idle gaps, read from `/proc/sys` (each `None`
/// where it cannot be read). Recorded in every manifest of a real transfer.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TcpSettings {
    /// `net.ipv4.tcp_slow_start_after_idle`: 1 restarts slow start after an idle RTO.
    pub slow_start_after_idle: Option<u32>,
    /// `net.ipv4.tcp_congestion_control`: BBR keeps its window over idle gaps; cubic and
    /// reno restart from the initial window (when the setting above is 1).
    pub congestion_control: Option<String>,
}

impl TcpSettings {
    /// The settings of the network namespace this thread runs in.
    pub fn read() -> Self {
        let read = |name: &str| {
            std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
                .ok()
                .map(|s| s.trim().to_string())
        };
        Self {
            slow_start_after_idle: read("tcp_slow_start_after_idle").and_then(|s| s.parse().ok()),
            congestion_control: read("tcp_congestion_control"),
        }
    }

    /// Whether an idle connection meets slow start again (classic congestion control with
    /// slow start after idle on), as the TCP model's cold window assumes.
    pub fn restarts_after_idle(&self) -> Option<bool> {
        let cc = self.congestion_control.as_deref()?;
        Some(self.slow_start_after_idle? == 1 && cc != "bbr")
    }
}
