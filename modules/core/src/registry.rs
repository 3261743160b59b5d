//! The registry: the chain's modules, listed once, and everything derived from that list: the
//! message router (type URL → handler), the query router (service → module), the module
//! accounts, and the order of the genesis, begin-block and end-block hooks (list order, except
//! where a module asks to run after another with [`Module::runs_after`]).

use std::collections::BTreeMap;

use cosmos_sdk_proto::Any;
use serde_json::{Map, Value};
use tendermint_proto::v0_38::abci::ValidatorUpdate;

use crate::block::BlockInfo;
use crate::error::{sdk_codes, AbciError};
use crate::module::{BlockContext, Hook, Module, ModuleAccount, Msg, MsgHandler, MsgRouter};
use crate::query::QueryService;
use crate::state::{StateRead, StateWrite};

/// Why a list of modules cannot form a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two modules with one name.
    #[error("module {0} is registered twice")]
    DuplicateModule(&'static str),
    /// Two handlers for one type URL.
    #[error("message {0} is handled by two modules")]
    DuplicateMsg(&'static str),
    /// Two modules serve one gRPC service.
    #[error("query service {0} is served by two modules")]
    DuplicateService(&'static str),
    /// A module runs after one that is not registered.
    #[error("module {module} runs after {after}, which is not registered")]
    UnknownDependency {
        /// The module.
        module: &'static str,
        /// What it names.
        after: &'static str,
    },
    /// The `runs_after` constraints of a hook form a cycle.
    #[error("the {0:?} order of the modules has a cycle")]
    Cycle(Hook),
}

/// The chain's modules and the routers built from them.
pub struct Registry {
    modules: Vec<Box<dyn Module>>,
    handlers: BTreeMap<&'static str, Box<dyn MsgHandler>>,
    queries: Vec<Box<dyn QueryService>>,
    genesis_order: Vec<usize>,
    begin_order: Vec<usize>,
    end_order: Vec<usize>,
}

impl Registry {
    /// Builds the registry from the modules in list order.
    pub fn new(modules: Vec<Box<dyn Module>>) -> Result<Self, RegistryError> {
        let mut handlers = BTreeMap::new();
        let mut queries: Vec<Box<dyn QueryService>> = Vec::new();
        let mut names = Vec::new();
        for module in &modules {
            if names.contains(&module.name()) {
                return Err(RegistryError::DuplicateModule(module.name()));
            }
            names.push(module.name());
            for handler in module.msg_handlers() {
                let url = handler.type_url();
                if handlers.insert(url, handler).is_some() {
                    return Err(RegistryError::DuplicateMsg(url));
                }
            }
            if let Some(service) = module.query_service() {
                for name in service.services() {
                    if queries.iter().any(|q| q.services().contains(name)) {
                        return Err(RegistryError::DuplicateService(name));
                    }
                }
                queries.push(service);
            }
        }
        let genesis_order = hook_order(&modules, Hook::InitGenesis)?;
        let begin_order = hook_order(&modules, Hook::BeginBlock)?;
        let end_order = hook_order(&modules, Hook::EndBlock)?;
        Ok(Self { modules, handlers, queries, genesis_order, begin_order, end_order })
    }

    /// The modules in list order.
    pub fn modules(&self) -> impl Iterator<Item = &dyn Module> {
        self.modules.iter().map(|m| m.as_ref())
    }

    /// The module named `name`.
    pub fn module(&self, name: &str) -> Option<&dyn Module> {
        self.modules().find(|m| m.name() == name)
    }

    /// Every type URL the chain accepts, sorted.
    pub fn msg_type_urls(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }

    /// Every module's `(name, consensus version)`, sorted by name.
    pub fn module_versions(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<_> = self.modules.iter().flat_map(|m| m.module_versions()).collect();
        out.sort();
        out
    }

    /// The descriptor sets modules bring beyond the chain's proto crate.
    pub fn descriptor_sets(&self) -> Vec<&'static [u8]> {
        self.modules.iter().filter_map(|m| m.descriptor_set()).collect()
    }

    /// Every module account, in registry order.
    pub fn module_accounts(&self) -> Vec<ModuleAccount> {
        self.modules.iter().flat_map(|m| m.module_accounts()).collect()
    }

    /// Every gRPC query service name served.
    pub fn query_service_names(&self) -> Vec<&'static str> {
        self.queries.iter().flat_map(|q| q.services().iter().copied()).collect()
    }

    /// The query service that serves the gRPC service `service`, if any.
    pub fn query_service(&self, service: &str) -> Option<&dyn QueryService> {
        self.queries.iter().find(|q| q.services().contains(&service)).map(|q| q.as_ref())
    }

    /// Imports genesis: each module's section of `app_state` in genesis order; the module
    /// accounts are created right after the first module's (auth's) import, in registry order.
    /// Returns the initial validator set.
    pub fn init_genesis(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        app_state: &Map<String, Value>,
        create_module_account: &dyn Fn(&mut dyn StateWrite, &ModuleAccount) -> Result<(), AbciError>,
    ) -> Result<Vec<ValidatorUpdate>, AbciError> {
        let mut validators = Vec::new();
        for (position, &i) in self.genesis_order.iter().enumerate() {
            let module = &self.modules[i];
            validators.extend(module.init_genesis(state, info, app_state.get(module.name()))?);
            if position == 0 {
                for account in self.module_accounts() {
                    create_module_account(state, &account)?;
                }
            }
        }
        Ok(validators)
    }

    /// Checks every section of `app_state` without state; unknown sections are refused.
    pub fn validate_genesis(&self, app_state: &Map<String, Value>) -> Result<(), AbciError> {
        if let Some(unknown) = app_state.keys().find(|k| self.module(k).is_none()) {
            return Err(AbciError::sdk(sdk_codes::INVALID_REQUEST, format!("genesis has a section for unknown module {unknown}")));
        }
        self.modules.iter().try_for_each(|m| m.validate_genesis(app_state.get(m.name())))
    }

    /// Exports every module's section, in registry order.
    pub fn export_genesis(&self, state: &dyn StateRead) -> Result<Map<String, Value>, AbciError> {
        let mut out = Map::new();
        for module in &self.modules {
            if let Some(section) = module.export_genesis(state)? {
                out.insert(module.name().to_string(), section);
            }
        }
        Ok(out)
    }

    /// Runs every begin-block hook.
    pub fn begin_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<(), AbciError> {
        self.begin_order.iter().try_for_each(|&i| self.modules[i].begin_block(ctx, state))
    }

    /// Runs every end-block hook; returns the validator updates.
    pub fn end_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<Vec<ValidatorUpdate>, AbciError> {
        let mut updates = Vec::new();
        for &i in &self.end_order {
            updates.extend(self.modules[i].end_block(ctx, state)?);
        }
        Ok(updates)
    }

    /// Names of the modules in the order `hook` runs them.
    pub fn order(&self, hook: Hook) -> Vec<&'static str> {
        let order = match hook {
            Hook::InitGenesis => &self.genesis_order,
            Hook::BeginBlock => &self.begin_order,
            Hook::EndBlock => &self.end_order,
        };
        order.iter().map(|&i| self.modules[i].name()).collect()
    }
}

impl MsgRouter for Registry {
    fn decode(&self, any: &Any) -> Result<Box<dyn Msg>, AbciError> {
        match self.handlers.get(any.type_url.as_str()) {
            Some(handler) => handler.decode(any),
            None => Err(AbciError::sdk(sdk_codes::TX_DECODE, format!("unable to resolve type URL {}: tx parse error", any.type_url))),
        }
    }
}

/// List order, except that a module comes after every module it `runs_after` for `hook`
/// (a stable topological sort: the earliest module whose predecessors have all run goes next).
fn hook_order(modules: &[Box<dyn Module>], hook: Hook) -> Result<Vec<usize>, RegistryError> {
    let index = |name: &str| modules.iter().position(|m| m.name() == name);
    let mut after: Vec<Vec<usize>> = Vec::with_capacity(modules.len());
    for module in modules {
        let mut deps = Vec::new();
        for &name in module.runs_after(hook) {
            deps.push(index(name).ok_or(RegistryError::UnknownDependency { module: module.name(), after: name })?);
        }
        after.push(deps);
    }
    let mut done = vec![false; modules.len()];
    let mut order = Vec::with_capacity(modules.len());
    while order.len() < modules.len() {
        let next = (0..modules.len()).find(|&i| !done[i] && after[i].iter().all(|&d| done[d])).ok_or(RegistryError::Cycle(hook))?;
        done[next] = true;
        order.push(next);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str, &'static [&'static str]);

    impl Module for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn runs_after(&self, hook: Hook) -> &'static [&'static str] {
            if hook == Hook::EndBlock {
                self.1
            } else {
                &[]
            }
        }
    }

    fn registry(modules: Vec<Named>) -> Result<Registry, RegistryError> {
        Registry::new(modules.into_iter().map(|m| Box::new(m) as Box<dyn Module>).collect())
    }

    #[test]
    fn hooks_keep_list_order_except_where_a_module_runs_after_another() {
        let r = registry(vec![Named("a", &[]), Named("stake", &["gov", "inference"]), Named("gov", &[]), Named("inference", &["gov"])])
            .expect("valid");
        assert_eq!(r.order(Hook::InitGenesis), ["a", "stake", "gov", "inference"]);
        assert_eq!(r.order(Hook::EndBlock), ["a", "gov", "inference", "stake"]);
    }

    #[test]
    fn duplicates_unknown_dependencies_and_cycles_are_refused() {
        assert_eq!(registry(vec![Named("a", &[]), Named("a", &[])]).err(), Some(RegistryError::DuplicateModule("a")));
        assert!(matches!(registry(vec![Named("a", &["zzz"])]).err(), Some(RegistryError::UnknownDependency { .. })));
        assert_eq!(registry(vec![Named("a", &["b"]), Named("b", &["a"])]).err(), Some(RegistryError::Cycle(Hook::EndBlock)));
    }

    #[test]
    fn unknown_type_urls_are_the_sdk_decode_error() {
        let r = registry(vec![Named("a", &[])]).expect("valid");
        let err = r.decode(&Any { type_url: "/foo.Bar".into(), value: vec![] }).unwrap_err();
        assert_eq!((err.codespace, err.code), ("sdk", 2));
        assert_eq!(err.log, "unable to resolve type URL /foo.Bar: tx parse error");
    }
}
