//! Arbitrary bytes into the ONNX importer (`model::onnx::import_bytes`): it must return a
//! model or an error naming the file, never panic, overflow or allocate without bound. The
//! file's folder does not exist, so external data is always missing (an error too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use splitbench::model::onnx;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/nonexistent-splitbench-fuzz/model.onnx");
    match onnx::import_bytes(data, path, None) {
        Ok(m) => {
            // What was imported is a consistent graph with a weight per parameter key.
            assert!(m.graph.nodes.len() > 1);
            for key in splitbench::model::expected_keys(&m.graph) {
                assert!(m.weights.contains_key(&key.0), "{}", key.0);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("model.onnx"), "error without the file: {msg}");
        }
    }
});
