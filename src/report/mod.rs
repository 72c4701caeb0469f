//! The guideline report (`sekimori report guideline`, the console's `/report`): for each
//! checklist item and each requirement of guideline 7.0 the gateway can evidence, a status
//! (適合 / 要対応 / 対象外), its evidence and what to do, all computed from live data at the
//! time asked for. Gathering reads the stores once (`gather`); figures and sections are pure
//! (`figures`, `sections`, `requirements`); `html`, `text` and `charts` render them.

pub mod charts;
mod evidence;
pub mod figures;
pub mod gather;
pub mod html;
pub mod model;
pub mod requirements;
pub mod sections;
pub mod text;

use crate::audit::export::Lang;
use crate::clock::to_jst_string;
use model::{Facility, GuidelineReport, SCHEMA_VERSION, Status, Summary};

/// Assemble the report from a snapshot, in one language.
pub fn build(s: &gather::Snapshot, lang: Lang) -> GuidelineReport {
    let ja = lang == Lang::Ja;
    let figures = figures::compute(s);
    let checklist = sections::checklist(&figures, ja);
    let extra = requirements::Extra {
        min_score: s.config.password.policy.min_score,
        blocklist_entries: s.blocklist_entries,
        public_url: s.config.server.public_url.clone(),
    };
    let reqs = requirements::requirements(&figures, ja, &extra, &checklist);
    let sections: Vec<_> = checklist.into_iter().chain(reqs).collect();
    let mut summary = Summary::default();
    for sec in &sections {
        match sec.status {
            Status::Met => summary.met += 1,
            Status::ActionRequired => summary.action_required += 1,
            Status::NotApplicable => summary.not_applicable += 1,
        }
    }
    let name = if s.config.facility.name.is_empty() {
        s.config.facility.id.0.clone()
    } else {
        s.config.facility.name.clone()
    };
    GuidelineReport {
        schema_version: SCHEMA_VERSION,
        generated_at: to_jst_string(s.generated_at),
        as_of: to_jst_string(s.as_of),
        lang: lang.code(),
        facility: Facility {
            id: s.config.facility.id.0.clone(),
            name,
        },
        summary,
        figures,
        sections,
    }
}
