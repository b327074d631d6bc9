//! The Linux plumbing of the emulator: a network namespace, two TUN devices, commands run
//! inside the namespace, and the loop that moves packets between the devices through a
//! [`Shaper`].

use super::shaper::Shaper;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `struct ifreq` as TUNSETIFF reads it: the name, the flags, padding to its full size.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Opens a TUN device named `name` (IP packets without a header) in the calling thread's
/// network namespace. It disappears when the file is closed.
pub fn open_tun(name: &str) -> io::Result<File> {
    let file = File::options()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
        _pad: [0; 22],
    };
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::other(format!(
            "interface name {name} is too long"
        )));
    }
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `req` is (with its size).
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// A new network namespace, held open by a file, with a TUN device `inner` inside it.
pub fn namespace_with_tun(inner: &str) -> io::Result<(File, File)> {
    let inner = inner.to_string();
    // unshare() moves only the calling thread, so a short-lived thread creates the namespace
    // and the device in it; the files keep both alive after it ends.
    std::thread::spawn(move || {
        // SAFETY: plain syscall on this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let ns = File::open("/proc/thread-self/ns/net")?;
        // No IPv6 inside: its router solicitations would be the only other traffic.
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
        let tun = open_tun(&inner)?;
        Ok((ns, tun))
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// `cmd` set to run inside the namespace held by `ns`.
pub fn in_namespace(mut cmd: Command, ns: &File) -> Command {
    let fd = ns.as_raw_fd();
    // SAFETY: the closure only makes the setns syscall (async-signal-safe) in the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Runs `ip ARGS` (in the namespace `ns`, if given); errors with its stderr.
pub fn ip(args: &[&str], ns: Option<&File>) -> io::Result<()> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    if let Some(ns) = ns {
        cmd = in_namespace(cmd, ns);
    }
    let out = cmd
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("running `ip` (package iproute2): {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`ip {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Moves packets from `input` to `output` through `shaper` until `stop`, timing on the clock
/// that started at `t0`. Returns the shaper for its counters.
pub fn pump(
    input: &File,
    output: &File,
    mut shaper: Shaper,
    t0: Instant,
    stop: &AtomicBool,
) -> io::Result<Shaper> {
    let fd = input.as_raw_fd();
    // SAFETY: fcntl on an fd this function borrows.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        // Wake-ups within a microsecond, not the default 50 us of timer slack.
        libc::prctl(libc::PR_SET_TIMERSLACK, 1);
    }
    let mut buf = vec![0u8; 65_536];
    let mut out = Vec::new();
    let mut writer = output;
    let mut reader = input;
    while !stop.load(Ordering::Relaxed) {
        let now = t0.elapsed().as_secs_f64();
        shaper.advance(now, &mut out);
        for p in out.drain(..) {
            // A packet the kernel refuses (interface going down) is lost, like on a link.
            let _ = writer.write(&p);
        }
        let wait = shaper
            .next_event()
            .map_or(0.1, |t| (t - t0.elapsed().as_secs_f64()).clamp(0.0, 0.1));
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let d = Duration::from_secs_f64(wait);
        let ts = libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd and a valid timespec for the duration of the call.
        let n = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            continue;
        }
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(len) => shaper.push(t0.elapsed().as_secs_f64(), buf[..len].to_vec()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(shaper)
}
