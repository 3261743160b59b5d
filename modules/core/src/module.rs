//! The shape of every module: the messages it owns ([`ModuleMsg`], type-erased as [`Msg`] and
//! decoded by a [`MsgHandler`]) and the module itself ([`Module`]: genesis, begin and end block,
//! query service, module accounts, consensus version). The app lists its modules once in a
//! [`crate::registry::Registry`], which dispatches by type URL and runs the hooks; no `match`
//! over modules or messages exists anywhere else.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;

use cosmos_sdk_proto::Any;
use serde_json::Value;
pub use tendermint_proto::v0_38::abci::{RequestFinalizeBlock, ValidatorUpdate};

use crate::block::BlockInfo;
use crate::error::{sdk_codes, AbciError, ErrorCode};
use crate::query::QueryService;
use crate::state::{StateRead, StateWrite};
use crate::Address;

/// Decodes `Any`-packed messages into checked [`Msg`]s: the app's registry, seen by messages
/// that carry other messages (a gov proposal) and by modules that run them (gov's end block).
pub trait MsgRouter: Send + Sync {
    /// Decodes and statelessly checks one message. Unknown type URLs are the SDK's tx-decode
    /// error (code 2).
    fn decode(&self, any: &Any) -> Result<Box<dyn Msg>, AbciError>;
}

/// A decoded, statelessly valid message (the SDK's `sdk.Msg` after `ValidateBasic`).
pub trait Msg: Debug + Send + Sync {
    /// Its type URL (the `action` of the `message` event).
    fn type_url(&self) -> &'static str;
    /// The module that handles it (the `module` of the `message` event: `bank`, `staking`,
    /// `distribution`, …, as the SDK names them).
    fn module(&self) -> &'static str;
    /// Addresses that must sign.
    fn signers(&self) -> Vec<Address>;
    /// The amino JSON form signed in `SIGN_MODE_LEGACY_AMINO_JSON` (`{"type","value"}`);
    /// `router` decodes messages nested inside this one.
    fn amino_json(&self, router: &dyn MsgRouter) -> Value;
    /// Runs the message against the tx's message layer; returns its `Any`-packed response.
    fn execute(&self, router: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, AbciError>;
}

/// Decodes one type URL; a module hands the registry one handler per message type it owns.
pub trait MsgHandler: Send + Sync {
    /// The type URL handled.
    fn type_url(&self) -> &'static str;
    /// Decodes the bytes and runs the stateless checks.
    fn decode(&self, any: &Any) -> Result<Box<dyn Msg>, AbciError>;
}

/// A module's own message type: the validated form of one protobuf message, with what it needs
/// to run (`Keeper`: the module's keeper, or a small struct of keepers). [`route`] turns it into
/// a [`MsgHandler`].
pub trait ModuleMsg: Debug + Send + Sync + Sized + 'static {
    /// The protobuf message on the wire.
    type Proto: prost::Message + Default;
    /// What `execute` runs against.
    type Keeper: Send + Sync + 'static;
    /// The module's error type (frozen codes).
    type Error: ErrorCode;
    /// Type URL (`/cosmos.bank.v1beta1.MsgSend`).
    const TYPE_URL: &'static str;
    /// The `module` attribute of its `message` event.
    const MODULE: &'static str;
    /// `ValidateBasic`: checks without state, producing the validated message.
    fn check(proto: Self::Proto) -> Result<Self, Self::Error>;
    /// Addresses that must sign.
    fn signers(&self) -> Vec<Address>;
    /// The amino JSON form (`{"type","value"}`).
    fn amino_json(&self, router: &dyn MsgRouter) -> Value;
    /// Runs the message; returns the `Any`-packed response.
    fn execute(&self, keeper: &Self::Keeper, router: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, Self::Error>;
}

/// The [`MsgHandler`] of one [`ModuleMsg`] type, bound to its keeper.
pub struct Route<M: ModuleMsg> {
    keeper: Arc<M::Keeper>,
    _msg: PhantomData<fn() -> M>,
}

/// The handler of `M`, executing against `keeper`.
pub fn route<M: ModuleMsg>(keeper: Arc<M::Keeper>) -> Box<dyn MsgHandler> {
    Box::new(Route::<M> { keeper, _msg: PhantomData })
}

/// A decoded message bound to the keeper it runs against.
struct Bound<M: ModuleMsg> {
    msg: M,
    keeper: Arc<M::Keeper>,
}

impl<M: ModuleMsg> Debug for Bound<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.msg.fmt(f)
    }
}

impl<M: ModuleMsg> Msg for Bound<M> {
    fn type_url(&self) -> &'static str {
        M::TYPE_URL
    }
    fn module(&self) -> &'static str {
        M::MODULE
    }
    fn signers(&self) -> Vec<Address> {
        self.msg.signers()
    }
    fn amino_json(&self, router: &dyn MsgRouter) -> Value {
        self.msg.amino_json(router)
    }
    fn execute(&self, router: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        self.msg.execute(&self.keeper, router, state).map_err(|e| AbciError::from_code(&e))
    }
}

impl<M: ModuleMsg> MsgHandler for Route<M> {
    fn type_url(&self) -> &'static str {
        M::TYPE_URL
    }
    fn decode(&self, any: &Any) -> Result<Box<dyn Msg>, AbciError> {
        let proto = decode_any::<M::Proto>(any)?;
        let msg = M::check(proto).map_err(|e| AbciError::from_code(&e))?;
        Ok(Box::new(Bound { msg, keeper: self.keeper.clone() }))
    }
}

/// Decodes the bytes of an `Any` (the SDK's tx-decode error, code 2, on failure).
pub fn decode_any<M: prost::Message + Default>(any: &Any) -> Result<M, AbciError> {
    M::decode(any.value.as_slice())
        .map_err(|e| AbciError::sdk(sdk_codes::TX_DECODE, format!("failed to decode {}: {e}: tx parse error", any.type_url)))
}

/// Packs a response message under its type URL.
pub fn pack(type_url: &str, response: &impl prost::Message) -> Any {
    Any { type_url: type_url.to_string(), value: response.encode_to_vec() }
}

/// Packs a response under `<msg type URL>Response`, the name every `Msg` service uses.
pub fn pack_response(msg_type_url: &str, response: &impl prost::Message) -> Any {
    Any { type_url: format!("{msg_type_url}Response"), value: response.encode_to_vec() }
}

/// The block a begin or end block hook runs in.
pub struct BlockContext<'a> {
    /// Height and header time.
    pub info: BlockInfo,
    /// CometBFT's request (block hash, last commit votes, misbehaviour evidence).
    pub request: &'a RequestFinalizeBlock,
    /// The app's message router (gov runs passed proposals' messages through it).
    pub router: &'a dyn MsgRouter,
    /// The app hash this block's header carries (the state after the previous block); `None`
    /// for the first block after InitChain.
    pub last_app_hash: Option<[u8; 32]>,
}

/// Which hook an ordering constraint is about (see [`Module::runs_after`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Genesis import.
    InitGenesis,
    /// Start of FinalizeBlock, before the txs.
    BeginBlock,
    /// End of FinalizeBlock, after the txs.
    EndBlock,
}

/// A module account: its name and permissions (`burner`, `staking`, …).
pub type ModuleAccount = (&'static str, &'static [&'static str]);

/// One module of the chain. Everything but [`Module::name`] has a default, so a module
/// implements only what it has.
pub trait Module: Send + Sync {
    /// Its name: the genesis section and the store prefix it owns.
    fn name(&self) -> &'static str;
    /// Consensus version (bumped by a state migration; reported by `ModuleVersions`).
    fn consensus_version(&self) -> u64 {
        1
    }
    /// `(name, consensus version)` as `cosmos.upgrade`'s `ModuleVersions` reports them (a module
    /// serving several SDK modules, like stake, reports each).
    fn module_versions(&self) -> Vec<(&'static str, u64)> {
        vec![(self.name(), self.consensus_version())]
    }
    /// Module accounts it owns, created at genesis in registry order.
    fn module_accounts(&self) -> Vec<ModuleAccount> {
        Vec::new()
    }
    /// Handlers of the messages it owns.
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        Vec::new()
    }
    /// Its query service (gRPC, REST and ABCI `Query` all go through it).
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        None
    }
    /// An encoded `FileDescriptorSet` of its protos, when they are not in the chain's proto crate
    /// (gRPC reflection and the REST gateway read the services and HTTP rules from it).
    fn descriptor_set(&self) -> Option<&'static [u8]> {
        None
    }
    /// Modules whose `hook` must run before this module's (the registry keeps list order
    /// otherwise).
    fn runs_after(&self, _hook: Hook) -> &'static [&'static str] {
        &[]
    }
    /// Checks its genesis section (`None`: absent, the defaults apply) without state.
    fn validate_genesis(&self, _genesis: Option<&Value>) -> Result<(), AbciError> {
        Ok(())
    }
    /// Imports its genesis section (`None`: absent); may return the initial validator set.
    fn init_genesis(
        &self,
        _state: &mut dyn StateWrite,
        _info: BlockInfo,
        _genesis: Option<&Value>,
    ) -> Result<Vec<ValidatorUpdate>, AbciError> {
        Ok(Vec::new())
    }
    /// Exports its state as its genesis section (`None`: it has none).
    fn export_genesis(&self, _state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        Ok(None)
    }
    /// Runs at the start of a block.
    fn begin_block(&self, _ctx: &BlockContext<'_>, _state: &mut dyn StateWrite) -> Result<(), AbciError> {
        Ok(())
    }
    /// Runs at the end of a block; may return validator updates.
    fn end_block(&self, _ctx: &BlockContext<'_>, _state: &mut dyn StateWrite) -> Result<Vec<ValidatorUpdate>, AbciError> {
        Ok(Vec::new())
    }
}

/// Parses a module's genesis section (absent: `T::default()`), as an SDK-style
/// `invalid genesis` error naming the module.
pub fn genesis_section<T: serde::de::DeserializeOwned + Default>(module: &str, genesis: Option<&Value>) -> Result<T, AbciError> {
    match genesis {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => T::deserialize(v)
            .map_err(|e| AbciError::sdk(sdk_codes::INVALID_REQUEST, format!("invalid app_state in genesis: {module}: {e}"))),
    }
}

/// Serializes a module's genesis section.
pub fn to_genesis_section<T: serde::Serialize>(module: &str, section: &T) -> Result<Option<Value>, AbciError> {
    serde_json::to_value(section)
        .map(Some)
        .map_err(|e| AbciError::sdk(sdk_codes::INTERNAL, format!("{module} genesis does not serialize: {e}")))
}

/// [`Module::init_genesis`] of a module whose section is the serde type `G`: parses the section
/// (absent: `G::default()`) and imports it with `import` (its failure is `<module> genesis: …`).
pub fn import_section<G, E>(
    module: &str,
    genesis: Option<&Value>,
    import: impl FnOnce(&G) -> Result<(), E>,
) -> Result<Vec<ValidatorUpdate>, AbciError>
where
    G: serde::de::DeserializeOwned + Default,
    E: std::fmt::Display,
{
    let section: G = genesis_section(module, genesis)?;
    import(&section).map_err(|e| internal(&format!("{module} genesis"), e))?;
    Ok(Vec::new())
}

/// [`Module::export_genesis`] of a module whose section is the serde type `G`.
pub fn export_section<G: serde::Serialize, E: std::fmt::Display>(module: &str, exported: Result<G, E>) -> Result<Option<Value>, AbciError> {
    let section = exported.map_err(|e| internal(&format!("{module} genesis export"), e))?;
    to_genesis_section(module, &section)
}

/// An internal error of a module hook, prefixed with what failed (`bank genesis: …`).
pub fn internal(what: &str, e: impl std::fmt::Display) -> AbciError {
    AbciError::sdk(sdk_codes::INTERNAL, format!("{what}: {e}"))
}

/// Name of the gov module account, the authority of every governance-only message.
pub const GOV_MODULE_NAME: &str = "gov";

/// The gov module account's address.
pub fn gov_authority() -> Address {
    Address::module(GOV_MODULE_NAME)
}

/// Checks that `authority` is the gov module account: the gov module's frozen `(gov, 13)`
/// error otherwise, the same for every module's governance-only messages.
pub fn require_gov_authority(authority: &str) -> Result<(), AbciError> {
    let expected = gov_authority().to_bech32();
    if authority != expected {
        return Err(AbciError {
            codespace: "gov",
            code: 13,
            log: format!(
                "invalid authority; expected {expected}, got {authority}: expected gov account as only signer for proposal message"
            ),
        });
    }
    Ok(())
}

/// Parses an account-address field of a message (the SDK's code 7 on failure).
pub fn account_field(field: &str, text: &str) -> Result<Address, AbciError> {
    Address::from_bech32(text)
        .map_err(|e| AbciError::sdk(sdk_codes::INVALID_ADDRESS, format!("invalid {field} address {text:?}: {e}: invalid address")))
}

/// Parses a validator-operator field into the operator's account (the SDK's code 7 on failure).
pub fn operator_field(field: &str, text: &str) -> Result<Address, AbciError> {
    Address::from_bech32_prefixed(text, crate::address::VALOPER_PREFIX)
        .map_err(|e| AbciError::sdk(sdk_codes::INVALID_ADDRESS, format!("invalid {field} address {text:?}: {e}: invalid address")))
}

/// The SDK's invalid-request error (code 18).
pub fn invalid_request(text: impl Into<String>) -> AbciError {
    AbciError::sdk(sdk_codes::INVALID_REQUEST, format!("{}: invalid request", text.into()))
}

/// The params of a `MsgUpdateParams`, which must be set.
pub fn required_params<P>(params: Option<&P>) -> Result<&P, AbciError> {
    params.ok_or_else(|| invalid_request("params cannot be empty"))
}

/// The amino JSON form every `MsgUpdateParams` shares: `{"type": name, "value": {"authority",
/// "params"}}`.
pub fn update_params_amino(amino_name: &str, authority: &str, params: Value) -> Value {
    serde_json::json!({"type": amino_name, "value": crate::amino::AminoObject::default().str("authority", authority).value("params", params).build()})
}

/// Declares a message that is its protobuf type after a stateless check (a newtype over the
/// proto) and implements [`ModuleMsg`] for it with [`AbciError`] as its error:
///
/// ```ignore
/// proto_msg! {
///     /// `cosmos.slashing.v1beta1.MsgUnjail`
///     Unjail(MsgUnjail), url "/cosmos.slashing.v1beta1.MsgUnjail", module "slashing", keeper StakeKeeper;
///     check(m) { operator_field("validator", &m.validator_addr)?; }
///     signers(m) operator_field("validator", &m.validator_addr).into_iter().collect()
///     amino(m) json!({"type": "cosmos-sdk/MsgUnjail", "value": {"address": m.validator_addr}})
///     execute(m, keeper, state) {  // or execute(m, keeper, state, router) to run nested messages slashing::unjail(keeper, state, m)?; Ok(pack_response(URL, &MsgUnjailResponse {})) }
/// }
/// ```
#[macro_export]
macro_rules! proto_msg {
    (
        $(#[$doc:meta])*
        $name:ident($proto:ty), url $url:literal, module $module:literal, keeper $keeper:ty;
        check($cm:ident) $check:block
        signers($sm:ident) $signers:expr;
        amino($am:ident $(, $ar:ident)?) $amino:expr;
        execute($em:ident, $ek:ident, $es:ident $(, $er:ident)?) $execute:block
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(pub $proto);

        impl $crate::module::ModuleMsg for $name {
            type Proto = $proto;
            type Keeper = $keeper;
            type Error = $crate::AbciError;
            const TYPE_URL: &'static str = $url;
            const MODULE: &'static str = $module;
            fn check($cm: $proto) -> Result<Self, $crate::AbciError> {
                $check
                #[allow(unreachable_code)]
                Ok(Self($cm))
            }
            fn signers(&self) -> Vec<$crate::Address> {
                let $sm = &self.0;
                $signers
            }
            fn amino_json(&self, router: &dyn $crate::module::MsgRouter) -> serde_json::Value {
                let $am = &self.0;
                $(let $ar = router;)?
                let _ = router;
                $amino
            }
            fn execute(
                &self,
                $ek: &$keeper,
                router: &dyn $crate::module::MsgRouter,
                $es: &mut dyn $crate::StateWrite,
            ) -> Result<cosmos_sdk_proto::Any, $crate::AbciError> {
                let $em = &self.0;
                $(let $er = router;)?
                let _ = router;
                $execute
            }
        }
    };
}

/// Implements [`ModuleMsg`] for message types that already have the inherent methods
/// `check_stateless(&Proto) -> Result<Self, Error>`, `signers()`, `amino_json()` and
/// `execute(&Keeper, state) -> Result<Response, Error>` (the response is packed under
/// `<type URL>Response`).
#[macro_export]
macro_rules! inherent_msgs {
    (keeper $keeper:ty, error $error:ty, module $module:literal; $($msg:ty: $proto:ty = $url:expr;)*) => {
        $(
            impl $crate::module::ModuleMsg for $msg {
                type Proto = $proto;
                type Keeper = $keeper;
                type Error = $error;
                const TYPE_URL: &'static str = $url;
                const MODULE: &'static str = $module;
                fn check(proto: $proto) -> Result<Self, $error> {
                    <$msg>::check_stateless(&proto)
                }
                fn signers(&self) -> Vec<$crate::Address> {
                    <$msg>::signers(self)
                }
                fn amino_json(&self, _: &dyn $crate::module::MsgRouter) -> serde_json::Value {
                    <$msg>::amino_json(self)
                }
                fn execute(
                    &self,
                    keeper: &$keeper,
                    _: &dyn $crate::module::MsgRouter,
                    state: &mut dyn $crate::StateWrite,
                ) -> Result<cosmos_sdk_proto::Any, $error> {
                    <$msg>::execute(self, keeper, state).map(|r| $crate::module::pack_response($url, &r))
                }
            }
        )*
    };
}
