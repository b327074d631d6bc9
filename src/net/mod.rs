//! Real co-inference over a network (layer 7, uses `eval`, `compress`, `channel`, `report`,
//! `gpu`, `model`, `data`): the edge server ([`server`], `splitbench serve`), the device
//! client ([`client`], `splitbench offload`), the messages between them ([`protocol`],
//! `docs/wire-format.md`), what the kernel says about a connection ([`tcpinfo`]), and the
//! server of the browser profiler ([`web`], `splitbench web`).

pub mod client;
pub mod protocol;
pub mod server;
pub mod summary;
pub mod tcpinfo;
pub mod web;

pub use client::{edge_profile, offload, EdgeProfile, OffloadOptions, Offloaded};
pub use server::{Edge, ServeEvent, ServeOptions};
pub use summary::{summarize, OffloadSummary, PhaseStats};
pub use web::{WebEvent, WebOptions, WebServer};
