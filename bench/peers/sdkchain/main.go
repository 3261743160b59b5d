// Command sdkchain runs the minimal Cosmos SDK v0.50 chain of `make bench-peers`:
//
//	sdkchain init  --home H --chain-id C --accounts N --denom D --funds F   (after `cometbft init --home H`)
//	sdkchain start --home H --chain-id C --abci ADDR --grpc ADDR
//
// init writes the app state of H/config/genesis.json: N funded accounts whose secp256k1 keys are
// sha256("bench-peers-account-" || u64 big-endian index) (the load generator derives the same
// keys), and one bonded validator (CometBFT's priv_validator_key.json) delegated by account 0.
// start serves ABCI on a socket for the real CometBFT binary and the gRPC query services.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"cosmossdk.io/log"
	sdkmath "cosmossdk.io/math"
	pruningtypes "cosmossdk.io/store/pruning/types"
	abciserver "github.com/cometbft/cometbft/abci/server"
	"github.com/cometbft/cometbft/privval"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/cosmos-sdk/baseapp"
	cryptocodec "github.com/cosmos/cosmos-sdk/crypto/codec"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	"github.com/cosmos/cosmos-sdk/server"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"
	"google.golang.org/grpc"
	grpcencoding "google.golang.org/grpc/encoding"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sdkchain init|start [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "init":
		err = runInit(os.Args[2:])
	case "start":
		err = runStart(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkchain:", err)
		os.Exit(1)
	}
}

// benchKey is the secp256k1 key of account index i, shared with the Rust load generator.
func benchKey(i uint64) *secp256k1.PrivKey {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], i)
	sum := sha256.Sum256(append([]byte("bench-peers-account-"), buf[:]...))
	return &secp256k1.PrivKey{Key: sum[:]}
}

func runInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	home := fs.String("home", "", "CometBFT home (already initialised)")
	chainID := fs.String("chain-id", "sdk-bench", "chain id")
	accounts := fs.Uint64("accounts", 1000, "funded accounts")
	denom := fs.String("denom", "stake", "denom of the funds and the stake")
	funds := fs.Int64("funds", 1_000_000_000, "funds per account")
	if err := fs.Parse(args); err != nil {
		return err
	}
	app := NewApp(log.NewNopLogger(), dbm.NewMemDB(), *chainID)
	cdc := app.enc.Codec

	var genAccounts []authtypes.GenesisAccount
	var balances []banktypes.Balance
	for i := uint64(0); i < *accounts; i++ {
		addr := sdk.AccAddress(benchKey(i).PubKey().Address())
		genAccounts = append(genAccounts, authtypes.NewBaseAccount(addr, nil, i, 0))
		balances = append(balances, banktypes.Balance{Address: addr.String(), Coins: sdk.NewCoins(sdk.NewInt64Coin(*denom, *funds))})
	}
	// The validator: CometBFT's key, self-delegated by account 0; its tokens sit in the bonded pool.
	pv := privval.LoadFilePVEmptyState(filepath.Join(*home, "config", "priv_validator_key.json"), "")
	cmtPub, err := pv.GetPubKey()
	if err != nil {
		return err
	}
	consPub, err := cryptocodec.FromCmtPubKeyInterface(cmtPub)
	if err != nil {
		return err
	}
	operator := sdk.AccAddress(benchKey(0).PubKey().Address())
	valAddr := sdk.ValAddress(operator)
	tokens := sdk.DefaultPowerReduction.MulRaw(100)
	validator, err := stakingtypes.NewValidator(valAddr.String(), consPub, stakingtypes.Description{Moniker: "bench"})
	if err != nil {
		return err
	}
	validator.Status = stakingtypes.Bonded
	validator.Tokens = tokens
	validator.DelegatorShares = sdkmath.LegacyNewDecFromInt(tokens)
	validator.Commission = stakingtypes.NewCommission(sdkmath.LegacyZeroDec(), sdkmath.LegacyOneDec(), sdkmath.LegacyZeroDec())
	validator.MinSelfDelegation = sdkmath.OneInt()
	stakingParams := stakingtypes.DefaultParams()
	stakingParams.BondDenom = *denom
	balances = append(balances, banktypes.Balance{
		Address: authtypes.NewModuleAddress(stakingtypes.BondedPoolName).String(),
		Coins:   sdk.NewCoins(sdk.NewCoin(*denom, tokens)),
	})

	authGenesis := authtypes.NewGenesisState(authtypes.DefaultParams(), genAccounts)
	bankGenesis := banktypes.NewGenesisState(banktypes.DefaultParams(), balances, nil, nil, nil)
	stakingGenesis := stakingtypes.NewGenesisState(stakingParams, []stakingtypes.Validator{validator},
		[]stakingtypes.Delegation{stakingtypes.NewDelegation(operator.String(), valAddr.String(), sdkmath.LegacyNewDecFromInt(tokens))})
	appState := map[string]json.RawMessage{}
	for name, genesis := range app.basicManager.DefaultGenesis(cdc) {
		appState[name] = genesis
	}
	appState[authtypes.ModuleName] = cdc.MustMarshalJSON(authGenesis)
	appState[banktypes.ModuleName] = cdc.MustMarshalJSON(bankGenesis)
	appState[stakingtypes.ModuleName] = cdc.MustMarshalJSON(stakingGenesis)
	appStateJSON, err := json.Marshal(appState)
	if err != nil {
		return err
	}

	genesisPath := filepath.Join(*home, "config", "genesis.json")
	raw, err := os.ReadFile(genesisPath)
	if err != nil {
		return err
	}
	var genesis map[string]json.RawMessage
	if err := json.Unmarshal(raw, &genesis); err != nil {
		return err
	}
	genesis["app_state"] = appStateJSON
	chainIDJSON, _ := json.Marshal(*chainID)
	genesis["chain_id"] = chainIDJSON
	// The app's InitChain answer sets the validator set; CometBFT's own list must then be empty
	// or equal, so it is left to the app.
	genesis["validators"] = json.RawMessage("[]")
	out, err := json.MarshalIndent(genesis, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(genesisPath, out, 0o644)
}

func runStart(args []string) error {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	home := fs.String("home", "", "home (the app's data goes to HOME/app-data)")
	chainID := fs.String("chain-id", "sdk-bench", "chain id")
	abciAddr := fs.String("abci", "tcp://127.0.0.1:26658", "ABCI socket address")
	grpcAddr := fs.String("grpc", "127.0.0.1:9090", "gRPC listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := dbm.NewGoLevelDB("application", filepath.Join(*home, "app-data"), nil)
	if err != nil {
		return err
	}
	app := NewApp(log.NewNopLogger(), db, *chainID,
		baseapp.SetPruning(pruningtypes.NewPruningOptions(pruningtypes.PruningDefault)),
		baseapp.SetMinGasPrices("0"+"stake"))

	grpcServer := grpc.NewServer(grpc.ForceServerCodec(app.enc.Codec.(interface {
		GRPCCodec() encodingCodec
	}).GRPCCodec()))
	app.RegisterGRPCServer(grpcServer)
	listener, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		return err
	}
	go func() { _ = grpcServer.Serve(listener) }()

	abciSrv, err := abciserver.NewServer(*abciAddr, "socket", server.NewCometABCIWrapper(app))
	if err != nil {
		return err
	}
	if err := abciSrv.Start(); err != nil {
		return err
	}
	fmt.Println("sdkchain: serving ABCI on", *abciAddr, "and gRPC on", *grpcAddr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	_ = abciSrv.Stop()
	grpcServer.Stop()
	return app.Close()
}

type encodingCodec = grpcencoding.Codec
