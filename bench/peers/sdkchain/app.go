// Package main is a minimal Cosmos SDK v0.50 chain (auth, bank, staking, consensus) used as the
// side-by-side peer of openledgerd in `make bench-peers`. Its wiring follows the SDK's simapp
// (app.go), with every module the benchmark does not exercise left out.
package main

import (
	"encoding/json"
	"fmt"

	"cosmossdk.io/log"
	storetypes "cosmossdk.io/store/types"
	"cosmossdk.io/x/tx/signing"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/codec/address"
	"github.com/cosmos/cosmos-sdk/codec/types"
	"github.com/cosmos/cosmos-sdk/runtime"
	"github.com/cosmos/cosmos-sdk/std"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/module"
	"github.com/cosmos/cosmos-sdk/x/auth"
	"github.com/cosmos/cosmos-sdk/x/auth/ante"
	authkeeper "github.com/cosmos/cosmos-sdk/x/auth/keeper"
	authtx "github.com/cosmos/cosmos-sdk/x/auth/tx"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	"github.com/cosmos/cosmos-sdk/x/bank"
	bankkeeper "github.com/cosmos/cosmos-sdk/x/bank/keeper"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	"github.com/cosmos/cosmos-sdk/x/consensus"
	consensuskeeper "github.com/cosmos/cosmos-sdk/x/consensus/keeper"
	consensustypes "github.com/cosmos/cosmos-sdk/x/consensus/types"
	"github.com/cosmos/cosmos-sdk/x/staking"
	stakingkeeper "github.com/cosmos/cosmos-sdk/x/staking/keeper"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"
	"github.com/cosmos/gogoproto/proto"

	abci "github.com/cometbft/cometbft/abci/types"
)

const appName = "sdkchain"

// moduleAccountPermissions are simapp's, restricted to the modules this chain has.
var moduleAccountPermissions = map[string][]string{
	authtypes.FeeCollectorName:     nil,
	stakingtypes.BondedPoolName:    {authtypes.Burner, authtypes.Staking},
	stakingtypes.NotBondedPoolName: {authtypes.Burner, authtypes.Staking},
}

// Encoding is the codec set shared by the app and the genesis writer.
type Encoding struct {
	InterfaceRegistry types.InterfaceRegistry
	Codec             codec.Codec
	TxConfig          client.TxConfig
	Amino             *codec.LegacyAmino
}

// App is the chain: a BaseApp with four modules.
type App struct {
	*baseapp.BaseApp
	enc             Encoding
	accountKeeper   authkeeper.AccountKeeper
	bankKeeper      bankkeeper.BaseKeeper
	stakingKeeper   *stakingkeeper.Keeper
	consensusKeeper consensuskeeper.Keeper
	moduleManager   *module.Manager
	basicManager    module.BasicManager
}

func newEncoding() Encoding {
	registry, err := types.NewInterfaceRegistryWithOptions(types.InterfaceRegistryOptions{
		ProtoFiles: proto.HybridResolver,
		SigningOptions: signing.Options{
			AddressCodec:          address.Bech32Codec{Bech32Prefix: sdk.Bech32MainPrefix},
			ValidatorAddressCodec: address.Bech32Codec{Bech32Prefix: sdk.Bech32PrefixValAddr},
		},
	})
	if err != nil {
		panic(err)
	}
	cdc := codec.NewProtoCodec(registry)
	amino := codec.NewLegacyAmino()
	std.RegisterLegacyAminoCodec(amino)
	std.RegisterInterfaces(registry)
	txConfig := authtx.NewTxConfig(cdc, authtx.DefaultSignModes)
	return Encoding{InterfaceRegistry: registry, Codec: cdc, TxConfig: txConfig, Amino: amino}
}

// NewApp wires the keepers, the module manager and the ante handler, and loads the latest version.
func NewApp(logger log.Logger, db dbm.DB, chainID string, options ...func(*baseapp.BaseApp)) *App {
	enc := newEncoding()
	options = append(options, baseapp.SetChainID(chainID))
	bApp := baseapp.NewBaseApp(appName, logger, db, enc.TxConfig.TxDecoder(), options...)
	bApp.SetInterfaceRegistry(enc.InterfaceRegistry)
	bApp.SetTxEncoder(enc.TxConfig.TxEncoder())

	keys := storetypes.NewKVStoreKeys(authtypes.StoreKey, banktypes.StoreKey, stakingtypes.StoreKey, consensustypes.StoreKey)
	authority := authtypes.NewModuleAddress("gov").String()
	app := &App{BaseApp: bApp, enc: enc}

	app.consensusKeeper = consensuskeeper.NewKeeper(enc.Codec, runtime.NewKVStoreService(keys[consensustypes.StoreKey]), authority, runtime.EventService{})
	bApp.SetParamStore(app.consensusKeeper.ParamsStore)

	app.accountKeeper = authkeeper.NewAccountKeeper(enc.Codec, runtime.NewKVStoreService(keys[authtypes.StoreKey]),
		authtypes.ProtoBaseAccount, moduleAccountPermissions, address.NewBech32Codec(sdk.Bech32MainPrefix), sdk.Bech32MainPrefix, authority)
	blocked := map[string]bool{}
	for name := range moduleAccountPermissions {
		blocked[authtypes.NewModuleAddress(name).String()] = true
	}
	app.bankKeeper = bankkeeper.NewBaseKeeper(enc.Codec, runtime.NewKVStoreService(keys[banktypes.StoreKey]), app.accountKeeper, blocked, authority, logger)
	app.stakingKeeper = stakingkeeper.NewKeeper(enc.Codec, runtime.NewKVStoreService(keys[stakingtypes.StoreKey]), app.accountKeeper, app.bankKeeper, authority,
		address.NewBech32Codec(sdk.Bech32PrefixValAddr), address.NewBech32Codec(sdk.Bech32PrefixConsAddr))

	app.moduleManager = module.NewManager(
		auth.NewAppModule(enc.Codec, app.accountKeeper, nil, nil),
		bank.NewAppModule(enc.Codec, app.bankKeeper, app.accountKeeper, nil),
		staking.NewAppModule(enc.Codec, app.stakingKeeper, app.accountKeeper, app.bankKeeper, nil),
		consensus.NewAppModule(enc.Codec, app.consensusKeeper),
	)
	app.basicManager = module.NewBasicManagerFromManager(app.moduleManager, nil)
	app.basicManager.RegisterLegacyAminoCodec(enc.Amino)
	app.basicManager.RegisterInterfaces(enc.InterfaceRegistry)

	app.moduleManager.SetOrderBeginBlockers(stakingtypes.ModuleName)
	app.moduleManager.SetOrderEndBlockers(stakingtypes.ModuleName)
	genesisOrder := []string{authtypes.ModuleName, banktypes.ModuleName, stakingtypes.ModuleName, consensustypes.ModuleName}
	app.moduleManager.SetOrderInitGenesis(genesisOrder...)
	app.moduleManager.SetOrderExportGenesis(genesisOrder...)

	configurator := module.NewConfigurator(enc.Codec, app.MsgServiceRouter(), app.GRPCQueryRouter())
	if err := app.moduleManager.RegisterServices(configurator); err != nil {
		panic(err)
	}

	app.MountKVStores(keys)
	app.SetInitChainer(app.initChainer)
	app.SetBeginBlocker(app.moduleManager.BeginBlock)
	app.SetEndBlocker(app.moduleManager.EndBlock)
	anteHandler, err := ante.NewAnteHandler(ante.HandlerOptions{
		AccountKeeper:   app.accountKeeper,
		BankKeeper:      app.bankKeeper,
		SignModeHandler: enc.TxConfig.SignModeHandler(),
		SigGasConsumer:  ante.DefaultSigVerificationGasConsumer,
	})
	if err != nil {
		panic(err)
	}
	app.SetAnteHandler(anteHandler)
	if err := app.LoadLatestVersion(); err != nil {
		panic(err)
	}
	return app
}

func (app *App) initChainer(ctx sdk.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	var state map[string]json.RawMessage
	if err := json.Unmarshal(req.AppStateBytes, &state); err != nil {
		return nil, fmt.Errorf("app state: %w", err)
	}
	return app.moduleManager.InitGenesis(ctx, app.enc.Codec, state)
}
