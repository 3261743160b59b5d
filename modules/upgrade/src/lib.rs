//! The upgrade module (cosmos.upgrade.v1beta1): governance schedules a named [`Plan`] at a height
//! with `MsgSoftwareUpgrade` (or cancels it with `MsgCancelUpgrade`). When FinalizeBlock reaches
//! that height, a binary that does not know the plan refuses to run the block and the node stops
//! cleanly with `UPGRADE "name" NEEDED at height: H: info`; a binary that knows it (a built-in handler in
//! [`BUILT_IN_UPGRADES`], or `openledgerd start --apply-upgrade NAME`) runs the handler, records the
//! plan as applied and continues the chain. Before it stops, the node writes the plan to
//! `$HOME/data/upgrade-info.json` ([`upgrade_info_json`]) in the Cosmos SDK's format, the file
//! cosmovisor watches to swap the binary.

pub mod events;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use cosmos_sdk_proto::cosmos::upgrade::v1beta1::{self as upb, Plan};
use openledger_core::block::block_info;
use openledger_core::module::{
    account_field, gov_authority, invalid_request, pack_response, require_gov_authority, route, BlockContext, Module, MsgHandler,
};
use openledger_core::query::QueryService;
use openledger_core::{proto_msg, AbciError, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use serde_json::json;

use crate::events::UpgradeApplied;

/// Codespace of the upgrade halt (and of the module's errors).
pub const UPGRADE_CODESPACE: &str = "upgrade";
/// Code of "upgrade needed" (the node halts).
pub const UPGRADE_NEEDED_CODE: u32 = 1;
/// State key of the scheduled plan.
pub const PLAN_KEY: &[u8] = b"upgrade/plan";

/// Name of the file, in the node's data directory, that a halt for an upgrade writes (the SDK's
/// `UpgradeInfoFilename`, read by cosmovisor).
pub const UPGRADE_INFO_FILE: &str = "upgrade-info.json";

/// Upgrade handlers compiled into this binary (names of plans it can apply).
pub const BUILT_IN_UPGRADES: &[&str] = &[];

/// `upgrade/done/{name}` → applied height (i64).
pub fn done_key(name: &str) -> Vec<u8> {
    format!("upgrade/done/{name}").into_bytes()
}

fn known() -> &'static Mutex<BTreeSet<String>> {
    static KNOWN: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| Mutex::new(BUILT_IN_UPGRADES.iter().map(|s| s.to_string()).collect()))
}

/// Registers an upgrade handler by plan name (`--apply-upgrade NAME`).
pub fn register_handler(name: &str) {
    if let Ok(mut set) = known().lock() {
        set.insert(name.to_string());
    }
}

/// Whether this binary can apply `name`.
pub fn has_handler(name: &str) -> bool {
    known().lock().map(|s| s.contains(name)).unwrap_or(false)
}

/// The scheduled plan.
pub fn plan(state: &dyn StateRead) -> Result<Option<Plan>, StateError> {
    state.get_proto(PLAN_KEY)
}

/// Height at which `name` was applied.
pub fn applied_height(state: &dyn StateRead, name: &str) -> Result<Option<i64>, StateError> {
    state.get_proto(&done_key(name))
}

/// Schedules `plan` (replacing any earlier one); rejects past heights, empty names and plans
/// already applied.
pub fn schedule(state: &mut dyn StateWrite, plan: &Plan, current_height: u64) -> Result<(), AbciError> {
    let invalid = |log: String| AbciError { codespace: openledger_core::error::SDK_CODESPACE, code: 18, log };
    let st = |e: StateError| AbciError::from_code(&e);
    if plan.name.trim().is_empty() {
        return Err(invalid("name cannot be empty: invalid request".into()));
    }
    if plan.height <= 0 || u64::try_from(plan.height).unwrap_or(0) <= current_height {
        return Err(invalid(format!("upgrade cannot be scheduled in the past (height {}): invalid request", plan.height)));
    }
    if applied_height(state, &plan.name).map_err(st)?.is_some() {
        return Err(invalid(format!("upgrade with name {} has already been completed: invalid request", plan.name)));
    }
    state.put_proto(PLAN_KEY.to_vec(), plan).map_err(st)
}

/// Cancels the scheduled plan.
pub fn cancel(state: &mut dyn StateWrite) -> Result<(), AbciError> {
    state.delete(PLAN_KEY).map_err(|e| AbciError::from_code(&e))
}

/// Start of FinalizeBlock at `height`: halts (`Err` with [`UPGRADE_NEEDED_CODE`]) when a plan is
/// due and unknown to this binary; applies it when known.
pub fn begin_block(state: &mut dyn StateWrite, height: u64) -> Result<(), AbciError> {
    let st = |e: StateError| AbciError::from_code(&e);
    let Some(plan) = plan(state).map_err(st)? else { return Ok(()) };
    let due = u64::try_from(plan.height).unwrap_or(0);
    if height < due {
        return Ok(());
    }
    if !has_handler(&plan.name) {
        return Err(AbciError { codespace: UPGRADE_CODESPACE, code: UPGRADE_NEEDED_CODE, log: upgrade_needed_log(&plan) });
    }
    tracing::info!("applying upgrade \"{}\" at height {height}", plan.name);
    state.put_proto(done_key(&plan.name), &i64::try_from(height).unwrap_or(i64::MAX)).map_err(st)?;
    state.delete(PLAN_KEY).map_err(st)?;
    state.emit_typed(UpgradeApplied { name: plan.name.clone(), height });
    Ok(())
}

/// The halt's log line, as the SDK's x/upgrade writes it: `UPGRADE "name" NEEDED at height: H: info`.
pub fn upgrade_needed_log(plan: &Plan) -> String {
    format!("UPGRADE \"{}\" NEEDED at height: {}: {}", plan.name, plan.height, plan.info)
}

/// A string as Go's `encoding/json` writes it (HTML characters and U+2028/U+2029 escaped).
fn go_json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in serde_json::Value::from(text).to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The contents of [`UPGRADE_INFO_FILE`] for `plan`, byte for byte what the SDK's
/// `DumpUpgradeInfoToDisk` writes (`json.Marshal` of a `Plan` with name, height and info: the zero
/// time, `info` left out when empty): `{"name":"v2","time":"0001-01-01T00:00:00Z","height":42,"info":"…"}`.
pub fn upgrade_info_json(plan: &Plan) -> String {
    let info = if plan.info.is_empty() { String::new() } else { format!(",\"info\":{}", go_json_string(&plan.info)) };
    format!("{{\"name\":{},\"time\":\"0001-01-01T00:00:00Z\",\"height\":{}{info}}}", go_json_string(&plan.name), plan.height)
}

/// `cosmos.upgrade.v1beta1.Query`: the scheduled plan, when a plan was applied, module
/// versions and the authority (what validator operators and upgrade tooling ask).
#[derive(Debug, Clone, Default)]
pub struct UpgradeQuery {
    /// `(name, consensus version)` of every module, sorted by name (set once the registry exists).
    versions: Arc<OnceLock<Vec<(&'static str, u64)>>>,
}

impl QueryService for UpgradeQuery {
    fn services(&self) -> &'static [&'static str] {
        &["cosmos.upgrade.v1beta1.Query"]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, openledger_core::QueryError> {
        use openledger_core::query::unary;
        use openledger_core::QueryError;
        match method {
            "CurrentPlan" => unary(data, |_: upb::QueryCurrentPlanRequest| Ok(upb::QueryCurrentPlanResponse { plan: plan(state)? })),
            "AppliedPlan" => unary(data, |req: upb::QueryAppliedPlanRequest| {
                Ok(upb::QueryAppliedPlanResponse { height: applied_height(state, &req.name)?.unwrap_or(0) })
            }),
            "ModuleVersions" => unary(data, |req: upb::QueryModuleVersionsRequest| {
                let module_versions: Vec<upb::ModuleVersion> = self
                    .versions
                    .get()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter(|(name, _)| req.module_name.is_empty() || *name == req.module_name)
                    .map(|(name, version)| upb::ModuleVersion { name: (*name).to_string(), version: *version })
                    .collect();
                if module_versions.is_empty() {
                    return Err(QueryError::NotFound(format!("x/upgrade: QueryModuleVersions module {} not found", req.module_name)));
                }
                Ok(upb::QueryModuleVersionsResponse { module_versions })
            }),
            "Authority" => {
                unary(data, |_: upb::QueryAuthorityRequest| Ok(upb::QueryAuthorityResponse { address: gov_authority().to_bech32() }))
            }
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
        }
    }
}

proto_msg! {
    /// `cosmos.upgrade.v1beta1.MsgSoftwareUpgrade` (the gov authority only)
    SoftwareUpgrade(upb::MsgSoftwareUpgrade), url "/cosmos.upgrade.v1beta1.MsgSoftwareUpgrade", module "upgrade", keeper UpgradeQuery;
    check(m) {
        account_field("authority", &m.authority)?;
        let plan = m.plan.as_ref().ok_or_else(|| invalid_request("plan cannot be empty"))?;
        if plan.name.trim().is_empty() || plan.height <= 0 {
            return Err(invalid_request("plan needs a name and a positive height"));
        }
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.plan.clone().unwrap_or_default();
        json!({"type": "cosmos-sdk/MsgSoftwareUpgrade", "value": {"authority": m.authority,
            "plan": {"height": p.height.to_string(), "info": p.info, "name": p.name, "time": "0001-01-01T00:00:00Z"}}})
    };
    execute(m, _keeper, state) {
        require_gov_authority(&m.authority)?;
        let height = block_info(state).map_err(|e| AbciError::from_code(&e))?.height;
        schedule(state, &m.plan.clone().unwrap_or_default(), height)?;
        Ok(pack_response(Self::TYPE_URL, &upb::MsgSoftwareUpgradeResponse {}))
    }
}

proto_msg! {
    /// `cosmos.upgrade.v1beta1.MsgCancelUpgrade` (the gov authority only)
    CancelUpgrade(upb::MsgCancelUpgrade), url "/cosmos.upgrade.v1beta1.MsgCancelUpgrade", module "upgrade", keeper UpgradeQuery;
    check(m) { account_field("authority", &m.authority)?; }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgCancelUpgrade", "value": {"authority": m.authority}});
    execute(m, _keeper, state) {
        require_gov_authority(&m.authority)?;
        cancel(state)?;
        Ok(pack_response(Self::TYPE_URL, &upb::MsgCancelUpgradeResponse {}))
    }
}

/// The upgrade module.
#[derive(Debug, Default)]
pub struct UpgradeModule {
    query: UpgradeQuery,
}

impl UpgradeModule {
    /// A handle that sets the reported versions after the module is moved into the registry.
    pub fn versions_handle(&self) -> UpgradeQuery {
        self.query.clone()
    }
}

impl UpgradeQuery {
    /// Reports `versions` through `ModuleVersions` (once).
    pub fn set_module_versions(&self, mut versions: Vec<(&'static str, u64)>) {
        versions.sort();
        let _ = self.versions.set(versions);
    }
}

impl Module for UpgradeModule {
    fn name(&self) -> &'static str {
        "upgrade"
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        let q = Arc::new(self.query.clone());
        vec![route::<SoftwareUpgrade>(q.clone()), route::<CancelUpgrade>(q)]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(self.query.clone()))
    }
    /// Halts at a plan's height unless this binary knows the plan (see [`begin_block`]).
    fn begin_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<(), AbciError> {
        begin_block(state, ctx.info.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_info_is_what_the_sdk_writes() {
        let plan = Plan { name: "v2".into(), height: 42, info: "see <https://x>&co".into(), ..Default::default() };
        assert_eq!(
            upgrade_info_json(&plan),
            r#"{"name":"v2","time":"0001-01-01T00:00:00Z","height":42,"info":"see \u003chttps://x\u003e\u0026co"}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&upgrade_info_json(&plan)).expect("valid JSON");
        assert_eq!(parsed["info"], "see <https://x>&co");
        let bare = Plan { name: "v3".into(), height: 7, ..Default::default() };
        assert_eq!(upgrade_info_json(&bare), r#"{"name":"v3","time":"0001-01-01T00:00:00Z","height":7}"#);
        assert_eq!(upgrade_needed_log(&plan), "UPGRADE \"v2\" NEEDED at height: 42: see <https://x>&co");
    }
}
