//! What an alert says, in each target's form.

use crate::target::{Format, Smtp, Webhook};
use crate::SendError;
pub use lectern_core::alerting::Notice;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One notice about one alert, ready to be sent anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The condition's stable name (`backup_failed`).
    pub condition: String,
    /// The condition in words ("A backup failed").
    pub title: String,
    pub notice: Notice,
    /// `warn` or `fail`.
    pub severity: String,
    /// What was found, in words.
    pub summary: String,
    /// When the condition started, and when this notice was made (ms).
    pub since: i64,
    pub at: i64,
    /// Which Lectern speaks (`[alerts] site`, default the host name).
    pub site: String,
    /// The admin area's health page, when the public address is known.
    pub link: Option<String>,
}

impl Alert {
    fn headline(&self) -> String {
        let what = match self.notice {
            Notice::Firing => "FIRING",
            Notice::Reminder => "STILL FIRING",
            Notice::Resolved => "RESOLVED",
            Notice::Test => "TEST",
        };
        format!("[Lectern {}] {what}: {}", self.site, self.title)
    }

    fn body(&self) -> String {
        let mut body = format!("{}\n\n", self.summary);
        if self.notice != Notice::Test {
            body.push_str(&format!("Since: {}\n", rfc3339(self.since)));
        }
        body.push_str(&format!(
            "Condition: {} ({})\n",
            self.condition, self.severity
        ));
        if let Some(link) = &self.link {
            body.push_str(&format!("Details: {link}\n"));
        }
        body
    }

    /// Lectern's own JSON (docs/monitoring.md), version 1.
    pub fn json(&self) -> Value {
        json!({
            "source": "lectern",
            "version": 1,
            "site": self.site,
            "condition": self.condition,
            "title": self.title,
            "status": self.notice.as_str(),
            "severity": self.severity,
            "summary": self.summary,
            "since": rfc3339(self.since),
            "at": rfc3339(self.at),
            "link": self.link,
        })
    }

    fn slack(&self) -> Value {
        let icon = match (self.notice, self.severity.as_str()) {
            (Notice::Resolved, _) => ":white_check_mark:",
            (Notice::Test, _) => ":information_source:",
            (_, "fail") => ":red_circle:",
            _ => ":warning:",
        };
        json!({ "text": format!("{icon} *{}*\n{}", self.headline(), self.body()) })
    }

    /// ntfy's priorities: 5 urgent … 2 low.
    fn ntfy(&self, topic: &str) -> Value {
        let (priority, tag) = match (self.notice, self.severity.as_str()) {
            (Notice::Resolved, _) => (3, "white_check_mark"),
            (Notice::Test, _) => (2, "information_source"),
            (_, "fail") => (5, "rotating_light"),
            _ => (4, "warning"),
        };
        json!({
            "topic": topic,
            "title": self.headline(),
            "message": self.body(),
            "priority": priority,
            "tags": [tag],
        })
    }
}

/// Milliseconds since the epoch as an RFC 3339 time (empty when out of
/// range).
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub(crate) fn email(smtp: &Smtp, alert: &Alert) -> Result<lettre::Message, SendError> {
    let mailbox = |address: &str| {
        address
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| SendError(format!("{address:?} is not an e-mail address: {e}")))
    };
    let mut builder = lettre::Message::builder()
        .from(mailbox(&smtp.from)?)
        .subject(alert.headline());
    for to in &smtp.to {
        builder = builder.to(mailbox(to)?);
    }
    builder
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(alert.body())
        .map_err(|e| SendError(format!("cannot write the e-mail: {e}")))
}

/// Where to post and what.
pub(crate) fn webhook(hook: &Webhook, alert: &Alert) -> Result<(reqwest::Url, Value), SendError> {
    let url = hook.parsed_url().map_err(SendError)?;
    Ok(match hook.format {
        Format::Json => (url, alert.json()),
        Format::Slack => (url, alert.slack()),
        Format::Ntfy => {
            // ntfy takes JSON at its root with the topic inside, which
            // keeps titles outside ASCII intact (headers would not).
            let topic = url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .unwrap_or_default()
                .to_owned();
            let mut root = url.clone();
            root.set_path("/");
            root.set_query(None);
            (root, alert.ntfy(&topic))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(notice: Notice) -> Alert {
        Alert {
            condition: "backup_failed".into(),
            title: "A backup failed".into(),
            notice,
            severity: "fail".into(),
            summary: "the disk is full".into(),
            since: 0,
            at: 60_000,
            site: "école".into(),
            link: None,
        }
    }

    #[test]
    fn lecterns_json_names_the_condition_and_its_state() {
        let body = alert(Notice::Resolved).json();
        assert_eq!(body["condition"], "backup_failed");
        assert_eq!(body["status"], "resolved");
        assert_eq!(body["since"], "1970-01-01T00:00:00Z");
        assert_eq!(body["at"], "1970-01-01T00:01:00Z");
    }

    #[test]
    fn ntfy_gets_its_topic_in_the_body_at_the_servers_root() {
        let hook = Webhook {
            url: "https://ntfy.example/alerts-7?x=1".into(),
            format: Format::Ntfy,
            name: None,
        };
        let (url, body) = webhook(&hook, &alert(Notice::Firing)).unwrap();
        assert_eq!(url.as_str(), "https://ntfy.example/");
        assert_eq!(body["topic"], "alerts-7");
        assert_eq!(body["priority"], 5);
        assert!(body["title"].as_str().unwrap().contains("école"));
    }

    #[test]
    fn slack_text_carries_the_headline_and_summary() {
        let hook = Webhook {
            url: "https://hooks.example/services/T/B/secret".into(),
            format: Format::Slack,
            name: None,
        };
        let (_, body) = webhook(&hook, &alert(Notice::Firing)).unwrap();
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("FIRING: A backup failed"), "{text}");
        assert!(text.contains("the disk is full"), "{text}");
        assert!(!hook.label().contains("secret"));
    }
}
