//! `splitbench web`: serves the browser profiler (built by `scripts/build-web.sh`) and
//! saves the profiles pages send back. Prints `serving URL` when ready.

use super::args::positive;
use anyhow::Result;
use splitbench::net::web::lan_address;
use splitbench::net::{WebEvent, WebOptions, WebServer};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `splitbench web`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on: 127.0.0.1:8080 for this machine's browser (or a phone with
    /// `adb reverse tcp:8080 tcp:8080`); 0.0.0.0:8443 with --tls for a phone on the same
    /// network. Port 0: any free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// HTTPS with a self-signed certificate made at start: WebGPU needs a secure context,
    /// and only localhost is one over plain HTTP. The browser warns once; accept it.
    #[arg(long)]
    tls: bool,
    /// The built page.
    #[arg(long, default_value = "web/dist")]
    root: PathBuf,
    /// Folder where results sent by the page are saved: device_profile.csv, its .json
    /// manifest, device_profile_kernels.csv and device_profile_pruned.csv (the study's
    /// kernel and pruned-prefix times), output_check.json.
    #[arg(long, default_value = "web-profile")]
    out: PathBuf,
    /// Exit after the first result is saved (or the page reports an error).
    #[arg(long)]
    once: bool,
    /// Give up after this many seconds without a result (with --once).
    #[arg(long, requires = "once", value_parser = positive)]
    timeout_s: Option<f64>,
    /// Log every file served.
    #[arg(long)]
    verbose: bool,
}

/// Binds, prints the address, serves.
pub fn run(a: &Args) -> Result<()> {
    let server = WebServer::start(WebOptions {
        listen: a.listen.clone(),
        root: a.root.clone(),
        tls: a.tls,
        out: a.out.clone(),
    })?;
    println!("serving {}", server.url());
    if a.listen.starts_with("0.0.0.0") || a.listen.starts_with("[::]") {
        let port = server
            .url()
            .rsplit(':')
            .next()
            .unwrap_or("")
            .trim_end_matches('/');
        let scheme = if a.tls { "https" } else { "http" };
        match lan_address() {
            Some(ip) => println!("  from a phone on this network: {scheme}://{ip}:{port}/"),
            None => println!("  from a phone: this URL with the machine's network address"),
        }
        if !a.tls {
            println!("  (browsers allow WebGPU only on localhost or HTTPS: add --tls)");
        }
    }
    println!("  results go to {}", a.out.display());
    std::io::stdout().flush()?;
    let verbose = a.verbose;
    let mut on_event = |e: WebEvent| match e {
        WebEvent::Served(path, status) if verbose || status != 200 => {
            eprintln!("{status} {path}")
        }
        WebEvent::Served(..) => {}
        WebEvent::Saved(csv, model) => println!("saved {model}: {}", csv.display()),
        WebEvent::Rejected(msg) => eprintln!("rejected a result: {msg}"),
        WebEvent::PageError(msg) => eprintln!("page error: {msg}"),
    };
    let timeout = a.timeout_s.map(Duration::from_secs_f64);
    server.serve(a.once, timeout, &mut on_event)?;
    Ok(())
}
