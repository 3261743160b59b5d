//! Protobuf types of OpenLedger's own modules, plus re-exports of the Cosmos SDK and CometBFT
//! protos, so the whole workspace shares one prost and one tonic.

#![allow(missing_docs, clippy::all)]

pub mod json;

pub use cosmos_sdk_proto as cosmos;
pub use tendermint_proto as tendermint;

/// Encoded `FileDescriptorSet` of every `openledger.*` proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openledger_descriptor.bin"));

/// Encoded `FileDescriptorSet` of the Cosmos SDK services the node serves (with their imports),
/// generated from the SDK's own .proto files by `proto/gen-cosmos-descriptors.sh`; reflection only.
pub const COSMOS_FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("../descriptors/cosmos.bin");

/// `openledger.*` packages.
pub mod openledger {
    /// `openledger.datanet.*`
    pub mod datanet {
        /// `openledger.datanet.v1`
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/openledger.datanet.v1.rs"));
        }
    }
    /// `openledger.model.*`
    pub mod model {
        /// `openledger.model.v1`
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/openledger.model.v1.rs"));
        }
    }
    /// `openledger.stake.*`
    pub mod stake {
        /// `openledger.stake.v1`
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/openledger.stake.v1.rs"));
        }
    }
    /// `openledger.executor.*` (the inference executor's service, gpu-executor/)
    pub mod executor {
        /// `openledger.executor.v1`
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/openledger.executor.v1.rs"));
        }
    }
    /// `openledger.inference.*`
    pub mod inference {
        /// `openledger.inference.v1`
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/openledger.inference.v1.rs"));
        }
    }
    /// `openledger.attribution.*`
    pub mod attribution {
        /// `openledger.attribution.v1`
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/openledger.attribution.v1.rs"));
        }
    }
    /// `openledger.auth.*`
    pub mod auth {
        /// `openledger.auth.v1`
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/openledger.auth.v1.rs"));
        }
    }
}
