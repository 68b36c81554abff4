//! Call recordings checked with the reference Opus tools: `opusinfo` must accept the stream
//! without warnings, and `opusdec` must give back the right length with each track where it
//! was placed. The tools are required (CI installs them): without them this test fails.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::Command;

use sicha_audio::opus::RecordingWriter;

const RATE: u32 = 8000;
const FRAME: usize = 160;

fn tone(hz: f64, len: usize, amplitude: f64) -> Vec<i16> {
    (0..len)
        .map(|n| (amplitude * (2.0 * PI * hz * n as f64 / f64::from(RATE)).sin()) as i16)
        .collect()
}

fn require_tool(name: &str) {
    let found = Command::new(name).arg("--version").output().is_ok();
    assert!(
        found,
        "`{name}` is not installed: the recording tests need opus-tools (run the project's install script, e.g. `apt-get install opus-tools`)"
    );
}

fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sicha-audio-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 3.0 s of caller tone (sent in uneven chunks, as Twilio might) and a 1.0 s agent burst at 1.5 s.
fn write_recording(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = RecordingWriter::new(std::io::BufWriter::new(file), RATE).unwrap();
    let caller = tone(440.0, 3 * RATE as usize, 8000.0);
    let agent = tone(1000.0, RATE as usize, 8000.0);
    let mut sent = 0;
    for (index, chunk) in caller.chunks(137).enumerate() {
        writer.push_caller(chunk).unwrap();
        sent += chunk.len();
        // The agent burst is handed over ahead of time, while the caller is at 1.2 s.
        if index == 70 {
            assert!(sent < 12_000);
            writer.push_agent_at(12_000, &agent).unwrap();
        }
    }
    assert_eq!(writer.late_samples(), 0);
    let mut buffered = writer.finish().unwrap();
    std::io::Write::flush(&mut buffered).unwrap();
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command.output().expect("tool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Mean power per 20 ms frame of one channel of interleaved stereo.
fn frame_powers(interleaved: &[i16], channel: usize) -> Vec<f64> {
    interleaved
        .chunks_exact(2 * FRAME)
        .map(|frame| {
            frame
                .iter()
                .skip(channel)
                .step_by(2)
                .map(|&s| f64::from(s).powi(2))
                .sum::<f64>()
                / FRAME as f64
        })
        .collect()
}

#[test]
fn opusinfo_accepts_recording_and_opusdec_restores_length_and_alignment() {
    require_tool("opusinfo");
    require_tool("opusdec");
    let dir = scratch_dir("recording");
    let opus_path = dir.join("call.opus");
    let wav_path = dir.join("call.wav");
    write_recording(&opus_path);

    let (ok, info) = run(Command::new("opusinfo").arg(&opus_path));
    assert!(ok, "opusinfo rejected the file:\n{info}");
    assert!(
        !info.to_lowercase().contains("warning"),
        "opusinfo warned:\n{info}"
    );
    assert!(info.contains("Channels: 2"), "{info}");
    assert!(info.contains("Original sample rate: 8000 Hz"), "{info}");
    assert!(info.contains("Playback length: 0m:03.000s"), "{info}");

    let (ok, log) = run(Command::new("opusdec")
        .arg("--quiet")
        .args(["--rate", "8000"])
        .arg(&opus_path)
        .arg(&wav_path));
    assert!(ok, "opusdec failed:\n{log}");
    let mut reader = hound::WavReader::open(&wav_path).unwrap();
    assert_eq!(
        (reader.spec().channels, reader.spec().sample_rate),
        (2, RATE)
    );
    let decoded: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let frames = decoded.len() / 2;
    assert!(
        frames.abs_diff(3 * RATE as usize) <= FRAME,
        "decoded {frames} samples per channel"
    );

    // Caller: present over the whole call. Agent: only from 1.5 s to 2.5 s, within a frame.
    let caller = frame_powers(&decoded, 0);
    let agent = frame_powers(&decoded, 1);
    let loud = 0.1 * 8000.0f64.powi(2) / 2.0;
    assert!(
        caller[1..caller.len() - 1].iter().all(|&p| p > loud),
        "caller track has gaps"
    );
    let agent_frames: Vec<usize> = agent
        .iter()
        .enumerate()
        .filter(|&(_, &p)| p > loud)
        .map(|(i, _)| i)
        .collect();
    let (first, last) = (agent_frames[0], *agent_frames.last().unwrap());
    assert!(
        first.abs_diff(75) <= 1 && last.abs_diff(124) <= 1,
        "agent burst in frames {first}..={last}, want 75..=124"
    );
    assert_eq!(
        agent_frames.len(),
        last - first + 1,
        "agent burst is not continuous"
    );

    std::fs::remove_dir_all(&dir).unwrap();
}
