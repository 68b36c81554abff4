//! The levers of a run: the settings of the bench's own server that change how soon it answers and
//! what that costs, each a switch of `sicha bench`, handed to the child as its environment (and the
//! demo business's preemptive replies as that business's setting), and recorded in the report so
//! it says what it measured.

use serde::Serialize;

use super::{EAGER_STT_MS, VAD_HANGOVER_MS};

/// The profile that reproduces the side-by-side measurement against another agent, and the
/// end-of-speech wait that measurement used, which the profile implies unless one is given.
pub const SIDE_BY_SIDE_PROFILE: &str = "side-by-side";
pub const SIDE_BY_SIDE_HANGOVER_MS: u32 = 500;

/// How the server turns speech into text (`SICHA_STT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Stt {
    /// Each utterance uploaded when it ends (or eagerly, early in the silence).
    Batch,
    /// Streamed over the Realtime API's WebSocket while the caller speaks.
    Realtime,
}

/// How the server decides that the caller's turn ended (`SICHA_END_OF_TURN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EndOfTurn {
    /// From the tentative transcript's last words and the voice's pitch too.
    Hebrew,
    /// The hangover alone.
    Silence,
}

impl Stt {
    /// As `SICHA_STT` and the switch spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Realtime => "realtime",
        }
    }
}

impl EndOfTurn {
    /// As `SICHA_END_OF_TURN` and the switch spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hebrew => "hebrew",
            Self::Silence => "silence",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Levers {
    pub stt: Stt,
    /// The demo business's preemptive replies.
    pub preemptive: bool,
    /// As the server decides it: the Hebrew decision reads the eager transcript, so without eager
    /// transcription the server decides by silence whatever was asked (see [`Levers::effective`]).
    pub end_of_turn: EndOfTurn,
    /// Eager transcription's threshold, `None` when it is off.
    pub eager_stt_ms: Option<u32>,
    pub hangover_ms: u32,
}

impl Levers {
    /// The server's defaults, with the hangover `profile` implies.
    pub fn defaults_for(profile: &str) -> Self {
        Self {
            stt: Stt::Batch,
            preemptive: true,
            end_of_turn: EndOfTurn::Hebrew,
            eager_stt_ms: Some(EAGER_STT_MS),
            hangover_ms: implied_hangover_ms(profile),
        }
    }

    /// The levers as the server will apply them: without eager transcription the Hebrew decision
    /// has no transcript to read, and the server falls back to silence.
    pub fn effective(self) -> Self {
        let end_of_turn = match self.eager_stt_ms {
            Some(_) => self.end_of_turn,
            None => EndOfTurn::Silence,
        };
        Self {
            end_of_turn,
            ..self
        }
    }

    /// The child server's environment for these levers (the preemptive switch is the business's).
    pub fn child_settings(&self) -> Vec<(&'static str, String)> {
        let eager = self
            .eager_stt_ms
            .map_or_else(|| "off".to_string(), |ms| ms.to_string());
        vec![
            ("SICHA_STT", self.stt.name().to_string()),
            ("SICHA_END_OF_TURN", self.end_of_turn.name().to_string()),
            ("SICHA_EAGER_STT_MS", eager),
            ("SICHA_VAD_HANGOVER_MS", self.hangover_ms.to_string()),
        ]
    }
}

/// The hangover a run uses unless one is given: the side-by-side profile's own, else the server's.
pub fn implied_hangover_ms(profile: &str) -> u32 {
    if profile == SIDE_BY_SIDE_PROFILE {
        SIDE_BY_SIDE_HANGOVER_MS
    } else {
        VAD_HANGOVER_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_side_by_side_profile_implies_its_hangover() {
        assert_eq!(implied_hangover_ms("side-by-side"), 500);
        assert_eq!(implied_hangover_ms("typical"), VAD_HANGOVER_MS);
        assert_eq!(Levers::defaults_for("side-by-side").hangover_ms, 500);
    }

    #[test]
    fn every_lever_reaches_the_childs_environment() {
        let levers = Levers {
            stt: Stt::Realtime,
            preemptive: false,
            end_of_turn: EndOfTurn::Silence,
            eager_stt_ms: Some(150),
            hangover_ms: 500,
        };
        let settings = levers.child_settings();
        let value = |name: &str| {
            settings
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(value("SICHA_STT"), Some("realtime"));
        assert_eq!(value("SICHA_END_OF_TURN"), Some("silence"));
        assert_eq!(value("SICHA_EAGER_STT_MS"), Some("150"));
        assert_eq!(value("SICHA_VAD_HANGOVER_MS"), Some("500"));
        let off = Levers {
            eager_stt_ms: None,
            ..levers
        };
        assert_eq!(
            off.child_settings()
                .iter()
                .find(|(key, _)| *key == "SICHA_EAGER_STT_MS")
                .map(|(_, value)| value.as_str()),
            Some("off")
        );
    }

    #[test]
    fn without_eager_transcription_the_turn_ends_on_silence() {
        let asked = Levers {
            eager_stt_ms: None,
            ..Levers::defaults_for("typical")
        };
        assert_eq!(asked.end_of_turn, EndOfTurn::Hebrew);
        assert_eq!(asked.effective().end_of_turn, EndOfTurn::Silence);
        let eager = Levers::defaults_for("typical");
        assert_eq!(eager.effective(), eager);
    }
}
