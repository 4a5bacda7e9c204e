//! launchguard-report: what happened in one incident, and over a period, for people.
//!
//! Pure: no I/O, no clock. Callers pass what the dispatcher knows (the finding, the outcomes,
//! refusals, what a person must do, the release history, `now`) and get text back:
//!
//! - [`model`]: the input ([`ReportInput`], [`ReleaseEvent`]) and the headline ([`Headline`]);
//! - [`timeline`]: instances launched per principal per minute, from the finding's
//!   `launches_per_minute` ([`Timeline`]: the chart's data);
//! - [`svg`]: the timeline as an inline SVG (no script, no external reference);
//! - [`escape`]: every value from CloudTrail or IAM is attacker-controlled text: escaped for HTML
//!   and Markdown here, and nowhere else;
//! - [`markdown`], [`html`]: the incident report; the HTML page is self-contained (inline CSS
//!   and SVG, no JavaScript, a Content-Security-Policy that forbids every request);
//! - [`summary`]: the period summary (incidents, principals, actions by outcome, releases,
//!   containments still open and for how long), in the three formats.

pub mod error;
pub mod escape;
mod facts;
pub mod html;
pub mod markdown;
pub mod model;
pub mod summary;
pub mod svg;
pub mod timeline;

pub use error::ReportError;
pub use model::{Headline, ReleaseEvent, ReportInput};
pub use summary::{Holding, IncidentFacts, PeriodSummary};
pub use timeline::Timeline;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown (GitHub-flavoured tables).
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// JSON (the documented shape of [`model::ReportDocument`] or [`PeriodSummary`]).
    Json,
}

/// One incident's report in `format`.
pub fn render(input: &ReportInput, format: Format) -> Result<String, ReportError> {
    Ok(match format {
        Format::Markdown => markdown::render(input),
        Format::Html => html::render(input),
        Format::Json => launchguard_core::text::json_text(&serde_json::to_string_pretty(&model::ReportDocument::of(input))?),
    })
}

/// A period summary in `format`.
pub fn render_summary(summary: &PeriodSummary, format: Format) -> Result<String, ReportError> {
    Ok(match format {
        Format::Markdown => summary::markdown(summary),
        Format::Html => summary::html(summary),
        Format::Json => launchguard_core::text::json_text(&serde_json::to_string_pretty(summary)?),
    })
}
