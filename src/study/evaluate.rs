//! The study's planning step: from [`Measurements`] to every method's choice on every link,
//! the rows of every chart and the per-link summaries. No GPU work.

use super::links::{study_channels, StudyChannel};
use super::rows::{evaluate_links, link_summaries, LinkResult};
use super::{Measurements, TradeoffOptions};
use crate::error::Result;
use crate::plan::{
    quantization_variants, three_step_candidates, Predictor, SearchSpace, STUDY_BITS,
};
use crate::report::{LinkSummary, PredictorError, Study};

/// A planned study: the rows of every CSV and chart, and what each method chose.
#[derive(Clone, Debug)]
pub struct StudyResult {
    /// Everything the CSVs and charts need.
    pub study: Study,
    /// The links, in the order evaluated.
    pub channels: Vec<StudyChannel>,
    /// Per link, each method's choice.
    pub links: Vec<LinkResult>,
    /// The candidates and each method's set.
    pub space: SearchSpace,
    /// Neurosurgeon's fitted predictor.
    pub predictor: Predictor,
    /// Its error per op type.
    pub predictor_error: Vec<PredictorError>,
    /// Candidates whose accuracy the accuracy table gave.
    pub accuracy_known: usize,
    /// Per preset and extra link: the methods' choices.
    pub summaries: Vec<LinkSummary>,
}

/// Plans the study: builds the search space from the measurements (plain, pruned and
/// bottlenecked candidates), applies the known accuracies and the minimum accuracy, and
/// runs every method on every link.
pub fn plan(m: &Measurements, opts: &TradeoffOptions) -> Result<StudyResult> {
    let problem = &m.problem;
    let channels = study_channels(opts.rtt_ms, opts.transport, &opts.channels)?;
    let predictor = Predictor::fit(problem);
    let predictor_error = predictor.errors(problem);
    let mut space = SearchSpace::build(
        problem,
        &quantization_variants(&STUDY_BITS),
        &m.codec,
        m.edge.speedup,
        &predictor,
    )?;
    space.extend(three_step_candidates(
        problem,
        &m.graph,
        &m.families,
        &m.pruned,
        opts.bottleneck,
        &m.codec,
        &m.bottlenecks,
        m.edge.speedup,
    )?);
    let accuracy_known = opts
        .accuracy
        .as_ref()
        .map(|t| space.apply_accuracy(problem, |c| t.get(c)))
        .unwrap_or(0);
    space.set_min_accuracy(opts.min_accuracy)?;
    let title = match &m.device_profile {
        None => format!(
            "{} {} on {} (edge: {})",
            m.graph.name,
            m.graph.input_shape(),
            m.device_label(),
            m.edge.source
        ),
        Some(_) => format!(
            "{} {}, device: {}, edge: {}",
            m.graph.name,
            m.graph.input_shape(),
            m.device_label(),
            m.edge.source
        ),
    };
    let (mut study, links) = evaluate_links(
        problem,
        &space,
        &channels,
        &title,
        opts.deadline_ms,
        opts.all_points,
    );
    study.bytes = m.bytes.clone();
    if let Some(t) = &opts.accuracy {
        study.accuracy_source = t.path.display().to_string();
    }
    let summaries = link_summaries(problem, &space, &channels, &links);
    Ok(StudyResult {
        study,
        channels,
        links,
        space,
        predictor,
        predictor_error,
        accuracy_known,
        summaries,
    })
}
