//! Software upgrades (cosmos.upgrade.v1beta1): governance schedules a named [`Plan`] at a height
//! with `MsgSoftwareUpgrade` (or cancels it with `MsgCancelUpgrade`). When FinalizeBlock reaches
//! that height, a binary that does not know the plan refuses to run the block and the node stops
//! cleanly with `UPGRADE "name" NEEDED at height H`; a binary that knows it (a built-in handler in
//! [`BUILT_IN_UPGRADES`], or `openledgerd start --apply-upgrade NAME`) runs the handler, records the
//! plan as applied and continues the chain.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use cosmos_sdk_proto::cosmos::upgrade::v1beta1::Plan;
use openledger_core::{AbciError, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};

/// Codespace of the upgrade halt (and of the module's errors).
pub const UPGRADE_CODESPACE: &str = "upgrade";
/// Code of "upgrade needed" (the node halts).
pub const UPGRADE_NEEDED_CODE: u32 = 1;
/// State key of the scheduled plan.
pub const PLAN_KEY: &[u8] = b"upgrade/plan";

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
        return Err(AbciError {
            codespace: UPGRADE_CODESPACE,
            code: UPGRADE_NEEDED_CODE,
            log: format!("UPGRADE \"{}\" NEEDED at height {}: {}", plan.name, plan.height, plan.info),
        });
    }
    tracing::info!("applying upgrade \"{}\" at height {height}", plan.name);
    state.put_proto(done_key(&plan.name), &i64::try_from(height).unwrap_or(i64::MAX)).map_err(st)?;
    state.delete(PLAN_KEY).map_err(st)?;
    state.emit(openledger_core::Event::new("upgrade").attr("name", plan.name.clone()).attr("height", height.to_string()));
    Ok(())
}

/// Modules reported by `ModuleVersions`, with their consensus versions (all 1: no in-place
/// store migration has happened yet). Sorted by name, as the SDK returns them.
pub const MODULE_VERSIONS: &[(&str, u64)] = &[
    ("attribution", 1),
    ("auth", 1),
    ("bank", 1),
    ("datanet", 1),
    ("distribution", 1),
    ("gov", 1),
    ("inference", 1),
    ("model", 1),
    ("slashing", 1),
    ("staking", 1),
    ("upgrade", 1),
];

/// `cosmos.upgrade.v1beta1.Query`: the scheduled plan, when a plan was applied, module
/// versions and the authority (what validator operators and upgrade tooling ask).
#[derive(Debug, Clone, Copy, Default)]
pub struct UpgradeQuery;

impl openledger_core::query::QueryService for UpgradeQuery {
    fn services(&self) -> &'static [&'static str] {
        &["cosmos.upgrade.v1beta1.Query"]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, openledger_core::QueryError> {
        use cosmos_sdk_proto::cosmos::upgrade::v1beta1 as upb;
        use openledger_core::query::unary;
        use openledger_core::QueryError;
        match method {
            "CurrentPlan" => unary(data, |_: upb::QueryCurrentPlanRequest| Ok(upb::QueryCurrentPlanResponse { plan: plan(state)? })),
            "AppliedPlan" => unary(data, |req: upb::QueryAppliedPlanRequest| {
                Ok(upb::QueryAppliedPlanResponse { height: applied_height(state, &req.name)?.unwrap_or(0) })
            }),
            "ModuleVersions" => unary(data, |req: upb::QueryModuleVersionsRequest| {
                let module_versions: Vec<upb::ModuleVersion> = MODULE_VERSIONS
                    .iter()
                    .filter(|(name, _)| req.module_name.is_empty() || *name == req.module_name)
                    .map(|(name, version)| upb::ModuleVersion { name: (*name).to_string(), version: *version })
                    .collect();
                if module_versions.is_empty() {
                    return Err(QueryError::NotFound(format!("x/upgrade: QueryModuleVersions module {} not found", req.module_name)));
                }
                Ok(upb::QueryModuleVersionsResponse { module_versions })
            }),
            "Authority" => unary(data, |_: upb::QueryAuthorityRequest| {
                Ok(upb::QueryAuthorityResponse { address: openledger_gov::gov_authority().to_bech32() })
            }),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
        }
    }
}
