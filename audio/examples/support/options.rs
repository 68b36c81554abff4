//! Command line shared by the VAD examples: `--fixtures DIR` picks the fixture set (default: the
//! committed one), `name=value` settings override the defaults of our classifier and endpointer.

use std::path::{Path, PathBuf};

use sicha_audio::endpoint::EndpointConfig;

use crate::vad_common::{Fixture, config_with, fixtures_dir, load_folder};

/// The parsed command line.
pub struct Options {
    /// Root of the fixture set, absolute.
    pub root: PathBuf,
    /// Endpointer settings, its classifier settings inside.
    pub endpoint: EndpointConfig,
    /// Arguments that are neither `--fixtures DIR` nor `name=value`, in order.
    pub positional: Vec<String>,
}

impl Options {
    /// Every fixture in `folder` of the chosen set, or none when the set has no such folder.
    pub fn load(&self, folder: &str) -> Vec<Fixture> {
        load_from(&self.root, folder)
    }
}

/// Parses the process arguments; `usage` is printed on anything malformed.
pub fn options(usage: &str) -> Options {
    let fail = || -> ! {
        eprintln!("usage: {usage}");
        std::process::exit(2);
    };
    let mut root = fixtures_dir();
    let mut endpoint = EndpointConfig::default();
    let mut vad_settings = Vec::new();
    let mut positional = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--fixtures" {
            let dir = args.next().unwrap_or_else(|| fail());
            root = std::path::absolute(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
            continue;
        }
        let Some((key, value)) = arg.split_once('=') else {
            positional.push(arg);
            continue;
        };
        let whole = || value.parse::<u32>().unwrap_or_else(|_| fail());
        match key {
            "start_ms" => endpoint.start_ms = whole(),
            "hangover_ms" => endpoint.hangover_ms = whole(),
            "weak_speech_ms" => endpoint.weak_speech_ms = whole(),
            _ => vad_settings.push(arg),
        }
    }
    endpoint.vad = config_with(&vad_settings);
    Options {
        root,
        endpoint,
        positional,
    }
}

/// Every fixture in `root/folder`, or none when there is no such folder. The shared loader
/// joins its argument to the committed fixtures folder; joining an absolute path replaces it.
pub fn load_from(root: &Path, folder: &str) -> Vec<Fixture> {
    let dir = root.join(folder);
    if dir.is_dir() {
        load_folder(dir.to_str().expect("UTF-8 path"))
    } else {
        Vec::new()
    }
}
