//! The checksum database's record of the module version, the reference
//! the proxies' content is compared with when it answers.

use super::ms;
use super::plan::{DbPlan, Plan};
use super::report::SumdbReport;
use crate::store::Store;
use crate::sumdb;
use std::sync::Arc;
use std::time::Instant;

pub(super) async fn lookup_sumdb(plan: &Plan) -> (SumdbReport, Option<sumdb::Vouch>) {
    let mut r = SumdbReport {
        status: "off",
        name: None,
        url: None,
        message: None,
        zip_h1: None,
        mod_h1: None,
        tree_size: None,
        lookup_ms: None,
    };
    let cfg = match &plan.db {
        DbPlan::Off => return (r, None),
        DbPlan::Skipped(why) => {
            r.status = "skipped";
            r.message = Some(why.clone());
            return (r, None);
        }
        DbPlan::Db(cfg) => cfg.clone(),
    };
    r.name = Some(cfg.name.clone());
    r.url = Some(cfg.url.clone());
    let start = Instant::now();
    let store: Arc<dyn Store> = match crate::store::MemStore::new() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            r.status = "unreachable";
            r.message = Some(format!("cannot create a temporary store: {e}"));
            return (r, None);
        }
    };
    let client = match sumdb::Client::new(cfg, store, plan.timeout) {
        Ok(c) => c,
        Err(e) => {
            r.status = "invalid";
            r.message = Some(format!("{e:#}"));
            return (r, None);
        }
    };
    // A lookup is several requests (latest, lookup, tiles).
    let bound = plan.timeout * 2;
    let res = tokio::time::timeout(bound, client.lookup(&plan.module, &plan.version)).await;
    r.lookup_ms = Some(ms(start.elapsed()));
    match res {
        Err(_) => {
            r.status = "unreachable";
            r.message = Some(format!(
                "no answer within {}",
                humantime::format_duration(bound)
            ));
            (r, None)
        }
        Ok(Err(e)) => {
            r.status = match e {
                sumdb::SumdbError::NotFound { .. } => "not_found",
                sumdb::SumdbError::Unreachable { .. } => "unreachable",
                _ => "invalid",
            };
            r.message = Some(e.to_string());
            (r, None)
        }
        Ok(Ok(v)) => {
            r.status = "ok";
            r.zip_h1 = v.zip.clone();
            r.mod_h1 = v.gomod.clone();
            r.tree_size = Some(v.tree_size);
            (r, Some(v))
        }
    }
}
