//! What the bench's callers say: every labelled script in the fixtures directory, in turn, and for
//! one call in four the same script with its second line cutting in on the agent's first answer,
//! so barge-in is measured under the same load.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::BenchError;
use crate::openai::OpenAiSim;
use crate::scenario::Scenario;

/// One call in this many barges in.
pub const BARGE_IN_EVERY: usize = 4;
/// How far into the agent's first answer the barging caller starts speaking.
pub const BARGE_IN_AFTER: Duration = Duration::from_millis(700);

/// The scripts, plain and with a barge-in.
#[derive(Debug, Clone)]
pub struct ScenarioSet {
    plain: Vec<Arc<Scenario>>,
    barging: Vec<Arc<Scenario>>,
}

impl ScenarioSet {
    /// Every `*.wav` in `dir` with a JSON sidecar, by file name.
    pub fn load(dir: &Path) -> Result<Self, BenchError> {
        let entries = std::fs::read_dir(dir).map_err(BenchError::io(dir))?;
        let mut wavs: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
            .filter(|p| p.with_extension("json").exists())
            .collect();
        wavs.sort();
        let scenarios = wavs
            .iter()
            .map(|wav| {
                Scenario::from_fixture(wav).map_err(|source| BenchError::Fixture {
                    path: wav.display().to_string(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_scenarios(scenarios)
            .ok_or_else(|| BenchError::NoFixtures(dir.display().to_string()))
    }

    /// `None` without any scenario. Scripts of one line cannot barge in and are always played plain.
    pub fn from_scenarios(scenarios: Vec<Scenario>) -> Option<Self> {
        if scenarios.is_empty() {
            return None;
        }
        let barging = scenarios
            .iter()
            .map(|plain| {
                let mut variant = plain.clone();
                // Line 1 cuts in on the answer to line 0; a one-line script has nothing to cut into.
                if variant.barge_in(1, BARGE_IN_AFTER).is_ok() {
                    variant.name.push_str("+barge-in");
                }
                Arc::new(variant)
            })
            .collect();
        Some(Self {
            plain: scenarios.into_iter().map(Arc::new).collect(),
            barging,
        })
    }

    /// Call `index`'s scenario: the scripts in turn, the second call of every four barging in.
    pub fn for_call(&self, index: usize) -> Arc<Scenario> {
        let script = index % self.plain.len();
        if index % BARGE_IN_EVERY == 1 {
            self.barging[script].clone()
        } else {
            self.plain[script].clone()
        }
    }

    /// Teaches the speech-to-text stand-in every script's lines and the chat stand-in their rules,
    /// once for the whole run (a barging variant has the same lines and rules as its script).
    pub fn teach(&self, openai: &OpenAiSim) {
        for scenario in &self.plain {
            scenario.teach(openai);
        }
    }

    /// How many distinct scripts there are.
    pub fn scripts(&self) -> usize {
        self.plain.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_call_in_four_barges_in_and_scripts_take_turns() {
        let mut second = Scenario::demo();
        second.name = "second".into();
        let set = ScenarioSet::from_scenarios(vec![Scenario::demo(), second]).unwrap();
        let names: Vec<String> = (0..8).map(|i| set.for_call(i).name.clone()).collect();
        assert_eq!(names[0], "call1_booking");
        assert_eq!(names[1], "second+barge-in");
        assert_eq!(names[2], "call1_booking");
        assert_eq!(names[5], "second+barge-in");
        let barging = set.for_call(1);
        assert!(barging.barge_in_lines().contains(&1));
        assert!(ScenarioSet::from_scenarios(Vec::new()).is_none());
    }
}
