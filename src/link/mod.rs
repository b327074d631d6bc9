//! A packet-level link emulator (layer 2, uses `channel`), after Mahimahi's `mm-link` and
//! `mm-delay`: commands run in a new network namespace whose only route to the host goes
//! through two TUN devices, and every IP packet between them crosses an emulated link.
//!
//! Each direction is a [`Shaper`]: a packet waits the one-way delay, then joins a queue
//! (unbounded, or drop-tail at `packets=N`) that the link drains at its delivery
//! opportunities ([`crate::channel::Opportunities`]): one 1500-byte (MTU) opportunity each
//! time the link's cumulative capacity grows by 1500 bytes, for any channel model the study
//! knows (fixed, presets, Shannon, Rayleigh per block, traces looping at their period).
//! Several small packets share an opportunity; a packet leaves at the opportunity that
//! carries its last byte; bytes of an opportunity that finds the queue empty are lost.
//!
//! Where it differs from Mahimahi: opportunities fall at continuous times computed from the
//! rate (Mahimahi's traces list whole milliseconds); the delay comes before the link in both
//! directions (`mm-delay D mm-link` puts the uplink's link first; with a constant delay only
//! the trace phase a packet meets differs); opportunities carry 1500 bytes because the TUN
//! devices carry no packet-information header (Mahimahi: 1504 with its 4-byte header, the
//! same packets per opportunity). Linux only; needs root or CAP_NET_ADMIN, and `ip`
//! (iproute2) to set addresses.

mod shaper;
mod sys;

pub use shaper::{Counts, Queue, Shaper};

use crate::channel::Channel;
use crate::error::{Error, Result};
use std::fs::File;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

/// Set for the command inside: the host's address (where `serve` listens) as seen from it.
pub const HOST_ENV: &str = "SPLITBENCH_LINK_HOST";
/// Set for the command inside: the uplink's spec (device to edge).
pub const UPLINK_ENV: &str = "SPLITBENCH_LINK_UPLINK";
/// Set for the command inside: the downlink's spec (edge to device).
pub const DOWNLINK_ENV: &str = "SPLITBENCH_LINK_DOWNLINK";
/// Set for the command inside: the round-trip delay the link adds, ms (twice the one-way
/// delay; queueing and transmission come on top).
pub const RTT_ENV: &str = "SPLITBENCH_LINK_RTT_MS";

/// Size of one delivery opportunity (the TUN devices' MTU), bytes.
pub const MTU: u64 = 1500;

/// The emulated link: one channel each way, a one-way delay and a queue discipline.
#[derive(Clone, Debug)]
pub struct LinkOptions {
    /// Device to edge (inside to host).
    pub uplink: Channel,
    /// Edge to device.
    pub downlink: Channel,
    /// One-way delay each direction, ms.
    pub delay_ms: f64,
    /// The queue of each direction.
    pub queue: Queue,
}

/// A namespace wired to the host through two TUN devices. Dropping it removes both devices;
/// the namespace goes when the last process in it ends.
pub struct Link {
    ns: File,
    host_tun: File,
    inner_tun: File,
    host: Ipv4Addr,
    inside: Ipv4Addr,
}

/// Links made by this process, so that concurrent ones get distinct names and subnets.
static LINKS: AtomicU32 = AtomicU32::new(0);

fn setup(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| {
        let denied = matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES));
        if denied {
            Error::Net(format!(
                "splitbench link needs root or CAP_NET_ADMIN ({what}: {e})"
            ))
        } else {
            Error::Net(format!("link: {what}: {e}"))
        }
    }
}

impl Link {
    /// Creates the namespace, the devices and their addresses (a /30 in 10.77.0.0/16 chosen
    /// from the process id, the host at .1 and the inside at .2), the inside's default route.
    pub fn up() -> Result<Link> {
        let n = LINKS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let slot = (pid.wrapping_mul(7).wrapping_add(n)) % 16_384;
        let (a, b) = ((slot / 64) as u8, (slot % 64 * 4) as u8);
        let host = Ipv4Addr::new(10, 77, a, b + 1);
        let inside = Ipv4Addr::new(10, 77, a, b + 2);
        let host_if = format!("sbl{}x{n}", pid % 100_000);
        let (ns, inner_tun) =
            sys::namespace_with_tun("sb0").map_err(setup("creating a network namespace"))?;
        let host_tun = sys::open_tun(&host_if).map_err(setup("creating a TUN device"))?;
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{host_if}/disable_ipv6"),
            "1",
        );
        let host_net = format!("{host}/30");
        let inside_net = format!("{inside}/30");
        let steps: [(&[&str], bool); 6] = [
            (&["addr", "add", &host_net, "dev", &host_if], false),
            (&["link", "set", &host_if, "up"], false),
            (&["addr", "add", &inside_net, "dev", "sb0"], true),
            (&["link", "set", "sb0", "up"], true),
            (&["link", "set", "lo", "up"], true),
            (&["route", "add", "default", "dev", "sb0"], true),
        ];
        for (args, inner) in steps {
            sys::ip(args, inner.then_some(&ns)).map_err(setup("setting addresses"))?;
        }
        Ok(Link {
            ns,
            host_tun,
            inner_tun,
            host,
            inside,
        })
    }

    /// The host's address as seen from inside.
    pub fn host(&self) -> Ipv4Addr {
        self.host
    }

    /// The inside's address as seen from the host.
    pub fn inside(&self) -> Ipv4Addr {
        self.inside
    }

    /// `program` set up to run inside, with the `SPLITBENCH_LINK_*` variables of `o`.
    pub fn command(&self, program: &str, o: &LinkOptions) -> Command {
        let mut cmd = Command::new(program);
        cmd.env(HOST_ENV, self.host.to_string())
            .env(UPLINK_ENV, o.uplink.spec())
            .env(DOWNLINK_ENV, o.downlink.spec())
            .env(RTT_ENV, (2.0 * o.delay_ms).to_string());
        sys::in_namespace(cmd, &self.ns)
    }

    /// Runs `f` on a new thread inside the namespace (its sockets live there) and returns
    /// its result.
    pub fn inside_thread<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: moves only this thread, to a namespace this Link holds open.
                if unsafe {
                    libc::setns(
                        std::os::fd::AsRawFd::as_raw_fd(&self.ns),
                        libc::CLONE_NEWNET,
                    )
                } != 0
                {
                    return Err(setup("entering the namespace")(
                        std::io::Error::last_os_error(),
                    ));
                }
                Ok(f())
            })
            .join()
            .map_err(|_| Error::Net("link: the thread inside panicked".into()))?
        })
    }

    /// Emulates the link of `o` while `f` runs; returns its result and the counters
    /// (uplink, downlink). `f` gets the instant the link's replay started (time 0 of its
    /// traces and opportunities).
    pub fn run<T>(
        &self,
        o: &LinkOptions,
        f: impl FnOnce(Instant) -> T,
    ) -> Result<(T, Counts, Counts)> {
        let stop = AtomicBool::new(false);
        let t0 = Instant::now();
        let delay = o.delay_ms * 1e-3;
        let up = Shaper::new(delay, o.uplink.opportunities(MTU), o.queue);
        let down = Shaper::new(delay, o.downlink.opportunities(MTU), o.queue);
        std::thread::scope(|s| {
            let up = s.spawn(|| sys::pump(&self.inner_tun, &self.host_tun, up, t0, &stop));
            let down = s.spawn(|| sys::pump(&self.host_tun, &self.inner_tun, down, t0, &stop));
            // Stops the pumps even if `f` panics, so the scope can end.
            struct Stop<'a>(&'a AtomicBool);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                }
            }
            let guard = Stop(&stop);
            let out = f(t0);
            drop(guard);
            let join = |h: std::thread::ScopedJoinHandle<'_, std::io::Result<Shaper>>| {
                h.join()
                    .map_err(|_| Error::Net("link: a shaper thread panicked".into()))?
                    .map_err(|e| Error::Net(format!("link: moving packets: {e}")))
            };
            let (up, down) = (join(up)?, join(down)?);
            Ok((out, up.counts(), down.counts()))
        })
    }
}
