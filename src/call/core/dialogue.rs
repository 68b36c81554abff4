//! What was said: the model's history, the turns' sequence numbers, the agent turn being spoken (its
//! words, what the caller heard of them, its stage timings), and the records of both sides' turns.
//! The history keeps what the caller heard: an interrupted answer is remembered as far as it played.

use std::time::Duration;

use crate::providers::llm::{ChatMessage, ChatRequest};
use crate::store::turns::{AnswerSpan, ROLE_AGENT, ROLE_CALLER};
use crate::store::{Business, NewTurn, Record};

use super::Now;
use super::callback_tool::REQUEST_CALLBACK;

/// Messages of history sent with each request (the system prompt comes on top).
const HISTORY_LIMIT: usize = 24;

/// A provider stage of the answer reaching its first result, reported as it happens so an answer
/// cut off by barge-in keeps its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageTime {
    /// The LLM request → its first complete sentence, in ms.
    LlmFirstSentence(u64),
    /// The TTS request for a sentence → its first audible audio, in ms.
    TtsFirstAudio(u64),
}

/// Stage timings of an agent turn, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    pub endpoint_ms: Option<i64>,
    pub stt_ms: Option<i64>,
    pub llm_ttft_ms: Option<i64>,
    pub llm_first_sentence_ms: Option<i64>,
    pub tts_ttfb_ms: Option<i64>,
    pub v2v_ms: Option<i64>,
    /// The server's own span of the answer (see [`AnswerSpan`]).
    pub span: AnswerSpan,
}

impl Timings {
    /// The first time of each stage counts: the first sentence is the one the caller waits for.
    pub fn stage(&mut self, stage: StageTime) {
        let (slot, ms) = match stage {
            StageTime::LlmFirstSentence(ms) => (&mut self.llm_first_sentence_ms, ms),
            StageTime::TtsFirstAudio(ms) => (&mut self.tts_ttfb_ms, ms),
        };
        slot.get_or_insert(ms as i64);
    }
}

/// The caller's side of a turn, as the agent understood it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerWords {
    pub text: String,
    pub stt_ms: u64,
    pub endpoint_ms: u64,
    /// When the caller's speech ended (wall clock), for the record.
    pub spoke_until_ms: i64,
    /// When their speech began.
    pub spoke_from_ms: i64,
}

/// What the agent says in one turn, gathered while it plays.
#[derive(Debug)]
struct Spoken {
    seq: i64,
    text: String,
    /// Texts of the pieces the caller heard (the last may be a partial piece).
    heard: Vec<String>,
    started_at_ms: i64,
    /// The reply is complete: nothing more will be added.
    finished: bool,
    timings: Timings,
}

impl Spoken {
    fn append(&mut self, sentence: &str) {
        let sentence = sentence.trim();
        if sentence.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(sentence);
    }

    fn heard_text(&self) -> String {
        self.heard
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub struct Dialogue {
    call_sid: String,
    history: Vec<ChatMessage>,
    next_seq: i64,
    spoken: Option<Spoken>,
    /// What the CRM interaction records as the call's outcome, when something notable happened.
    outcome: Option<String>,
    /// An earlier call this one follows up (a call-back), for the system prompt.
    earlier_call: Option<String>,
}

impl Dialogue {
    pub fn new(call_sid: &str) -> Self {
        Self {
            call_sid: call_sid.to_string(),
            history: Vec::new(),
            next_seq: 0,
            spoken: None,
            outcome: None,
            earlier_call: None,
        }
    }

    /// This call follows up an earlier one, summed up as `earlier_call` (a call-back).
    pub fn following_up(mut self, earlier_call: Option<String>) -> Self {
        self.earlier_call = earlier_call;
        self
    }

    fn seq(&mut self) -> i64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn spoken(&mut self, now: Now) -> &mut Spoken {
        if self.spoken.is_none() {
            let seq = self.seq();
            self.spoken = Some(Spoken {
                seq,
                text: String::new(),
                heard: Vec::new(),
                started_at_ms: now.wall_ms,
                finished: false,
                timings: Timings::default(),
            });
        }
        self.spoken.as_mut().expect("just set")
    }

    /// The caller's words become a turn: remembered for the model and recorded.
    pub fn caller_turn(&mut self, words: CallerWords, now: Now) -> Record {
        self.history.push(ChatMessage::user(words.text.clone()));
        let seq = self.seq();
        let turn = NewTurn {
            call_sid: self.call_sid.clone(),
            seq,
            role: ROLE_CALLER.into(),
            text: words.text,
            heard_text: None,
            started_at_ms: words.spoke_from_ms,
            ended_at_ms: words
                .spoke_until_ms
                .max(words.spoke_from_ms)
                .min(now.wall_ms),
            interrupted: false,
            stt_ms: Some(words.stt_ms as i64),
            llm_ttft_ms: None,
            llm_first_sentence_ms: None,
            tts_ttfb_ms: None,
            endpoint_ms: Some(words.endpoint_ms as i64),
            v2v_ms: None,
        };
        Record::Turn {
            turn: Box::new(turn),
            span: AnswerSpan::default(),
        }
    }

    /// The agent's answer to the caller's words starts now (the reply was asked for).
    pub fn answer_started(&mut self, words: &CallerWords, stt_wait: Duration, now: Now) {
        let timings = &mut self.spoken(now).timings;
        timings.stt_ms = Some(words.stt_ms as i64);
        timings.endpoint_ms = Some(words.endpoint_ms as i64);
        timings.span.stt_wait_ms = Some(stt_wait.as_millis() as i64);
        timings.span.head_start_ms = Some(0);
    }

    /// Adds words the agent says (a sentence, a phrase) to its turn. `closing` marks a turn that
    /// gets nothing more (a phrase said outside a reply).
    pub fn say(&mut self, text: &str, closing: bool, now: Now) {
        let spoken = self.spoken(now);
        spoken.append(text);
        spoken.finished |= closing;
    }

    /// Pieces of the agent turn have played.
    pub fn heard(&mut self, texts: impl IntoIterator<Item = String>) {
        if let Some(spoken) = &mut self.spoken {
            spoken.heard.extend(texts);
        }
    }

    /// The number of the agent turn being spoken, if one has begun.
    pub fn speaking_seq(&self) -> Option<i64> {
        self.spoken.as_ref().map(|spoken| spoken.seq)
    }

    pub fn timings(&mut self, now: Now) -> &mut Timings {
        &mut self.spoken(now).timings
    }

    /// The reply has produced everything it will.
    pub fn finish_answer(&mut self) {
        if let Some(spoken) = &mut self.spoken {
            spoken.finished = true;
        }
    }

    pub fn answer_finished(&self) -> bool {
        self.spoken.as_ref().is_some_and(|s| s.finished)
    }

    /// Commits the agent turn; `interrupted` records that the caller cut it off, so the history keeps
    /// only what was heard. Returns its record, if it said anything.
    pub fn commit_agent_turn(&mut self, interrupted: bool, now: Now) -> Option<Record> {
        let spoken = self.spoken.take()?;
        if spoken.text.is_empty() {
            return None;
        }
        let heard = spoken.heard_text();
        let remembered = if interrupted {
            heard.clone()
        } else {
            spoken.text.clone()
        };
        if !remembered.is_empty() {
            self.history.push(ChatMessage::assistant(remembered));
        }
        let t = spoken.timings;
        let turn = NewTurn {
            call_sid: self.call_sid.clone(),
            seq: spoken.seq,
            role: ROLE_AGENT.into(),
            text: spoken.text,
            heard_text: interrupted.then_some(heard),
            started_at_ms: spoken.started_at_ms,
            ended_at_ms: now.wall_ms,
            interrupted,
            stt_ms: t.stt_ms,
            llm_ttft_ms: t.llm_ttft_ms,
            llm_first_sentence_ms: t.llm_first_sentence_ms,
            tts_ttfb_ms: t.tts_ttfb_ms,
            endpoint_ms: t.endpoint_ms,
            v2v_ms: t.v2v_ms,
        };
        Some(Record::Turn {
            turn: Box::new(turn),
            span: t.span,
        })
    }

    /// Sets the call's outcome unless a notable one is already recorded.
    pub fn outcome_if_unset(&mut self, outcome: &str) {
        self.outcome.get_or_insert_with(|| outcome.to_string());
    }

    pub fn set_outcome(&mut self, outcome: &str) {
        self.outcome = Some(outcome.to_string());
    }

    pub fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref()
    }

    /// The request [`Dialogue::request`] will make once the caller's `words` are their turn, made
    /// now without recording them (for an answer started before the turn is confirmed).
    pub fn request_answering(
        &self,
        business: &Business,
        tools: Vec<crate::providers::llm::ToolSpec>,
        words: &str,
    ) -> ChatRequest {
        let mut request = self.request(business, tools);
        request.messages.push(ChatMessage::user(words.to_string()));
        request
    }

    /// The model's request: the business's prompt, what the agent can and cannot do (from the
    /// tools it has), the recent history and the tools.
    pub fn request(
        &self,
        business: &Business,
        tools: Vec<crate::providers::llm::ToolSpec>,
    ) -> ChatRequest {
        let mut prompt = system_prompt(business, &tools);
        if let Some(earlier) = &self.earlier_call {
            prompt.push_str(&follow_up_context(earlier));
        }
        let mut messages = vec![ChatMessage::system(prompt)];
        let skip = self.history.len().saturating_sub(HISTORY_LIMIT);
        messages.extend(self.history[skip..].iter().cloned());
        let mut request = ChatRequest::new(messages);
        request.tools = tools;
        request.temperature = Some(0.4);
        request.max_tokens = Some(300);
        request
    }
}

/// Added to the system prompt of a call-back: why the agent is calling, and the earlier call.
fn follow_up_context(earlier_call: &str) -> String {
    format!(
        "\n\nזו שיחה יוצאת: את מתקשרת ללקוח בחזרה, כפי שהובטח לו בשיחה קודמת שלו עם העסק. פתחת \
         בכך שאת חוזרת אליו בעקבות אותה שיחה; עזרי לו בעניין שבגללו ביקש שיחזרו אליו. מה היה בשיחה \
         הקודמת:\n{earlier_call}"
    )
}

fn system_prompt(business: &Business, tools: &[crate::providers::llm::ToolSpec]) -> String {
    // The built-in tools in Hebrew; a business's own tools by the description it gave them.
    let can: Vec<&str> = tools
        .iter()
        .map(|tool| match tool.name.as_str() {
            "end_call" => "לסיים את השיחה",
            "send_sms" => "לשלוח ללקוח הודעת SMS",
            "transfer_to_human" => "להעביר את השיחה לנציג",
            REQUEST_CALLBACK => "לרשום שנציג מהעסק יחזור ללקוח בשיחה חוזרת",
            _ => tool.description.as_str(),
        })
        .collect();
    // A call-back is promised only through its tool, which records it; without the tool none is.
    let call_back = if tools.iter().any(|tool| tool.name == REQUEST_CALLBACK) {
        format!(
            "אם אינך יודעת — אמרי זאת והציעי שנציג יחזור ללקוח. שיחה חוזרת מובטחת רק בעזרת הכלי \
             {REQUEST_CALLBACK}: אם הלקוח מבקש שיחזרו אליו או מסכים להצעה, הפעילי אותו עם הסיבה במילים \
             של הלקוח, ורק אחרי שהחזיר הצלחה אמרי שיחזרו אליו ומתי."
        )
    } else {
        "אם אינך יודעת — אמרי זאת בכנות. אל תבטיחי שיחזרו ללקוח: אין לך דרך לרשום שיחה חוזרת."
            .to_string()
    };
    format!(
        "{}\n\nאת הסוכנת הטלפונית של \"{}\". את מדברת עם לקוח בטלפון: עני בעברית, בקצרה, במשפטים \
         קצרים וברורים שנשמעים טבעי בקול, בלי רשימות, בלי סימונים ובלי אימוג'י. {call_back}\n\nהפעולות \
         היחידות שאת יכולה לבצע בשיחה: {}. אין לך דרך לבצע שום \
         פעולה אחרת (למשל לקבוע, לשנות או לבטל תור, להזמין או לשלם): לעולם אל תאמרי שביצעת פעולה שלא \
         ביצעת בעזרת הכלים. אם הלקוח מבקש פעולה כזו, אמרי בכנות שאינך יכולה לבצע אותה בשיחה ושנציג מהעסק יוכל לעזור. \
         פעולה נחשבת כמבוצעת רק אם הכלי החזיר הצלחה; אם הכלי נכשל או לא ענה, אמרי ללקוח בכנות שהפעולה לא בוצעה.",
        business.system_prompt,
        business.name,
        can.join(", ")
    )
}
