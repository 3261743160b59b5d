//! Gas metering with the Cosmos SDK's KV-store cost table, so `gas_used` is in the range clients
//! expect (a bank send costs tens of thousands of gas).

use std::sync::atomic::{AtomicU64, Ordering};

/// Gas costs of state access and of the tx itself (cosmos-sdk `store/types/gas.go` defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasCosts {
    /// Flat cost of a read.
    pub read_flat: u64,
    /// Per byte read (key + value).
    pub read_per_byte: u64,
    /// Flat cost of a write.
    pub write_flat: u64,
    /// Per byte written (key + value).
    pub write_per_byte: u64,
    /// Flat cost of a delete.
    pub delete: u64,
    /// Per entry returned by a prefix scan.
    pub iter_next_flat: u64,
}

/// The SDK's KV gas configuration.
pub const KV_GAS_COSTS: GasCosts =
    GasCosts { read_flat: 1000, read_per_byte: 3, write_flat: 2000, write_per_byte: 30, delete: 1000, iter_next_flat: 30 };

/// Counts gas against a limit. Interior mutability so that reads through `&self` can charge;
/// atomic so a meter can be shared (`Arc`) by the layers of one tx.
#[derive(Debug)]
pub struct GasMeter {
    limit: u64,
    consumed: AtomicU64,
}

/// Returned when a charge would exceed the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfGas {
    /// The meter's limit.
    pub limit: u64,
    /// What was asked for in total.
    pub wanted: u64,
}

impl GasMeter {
    /// A meter with the given limit.
    pub fn new(limit: u64) -> Self {
        Self { limit, consumed: AtomicU64::new(0) }
    }

    /// A meter that never runs out (simulation, block-level hooks).
    pub fn infinite() -> Self {
        Self::new(u64::MAX)
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Gas consumed so far (never above the limit).
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// Charges `amount`; on overflow of the limit the meter is left at the limit.
    pub fn charge(&self, amount: u64) -> Result<(), OutOfGas> {
        let wanted = self.consumed.load(Ordering::Relaxed).saturating_add(amount);
        if wanted > self.limit {
            self.consumed.store(self.limit, Ordering::Relaxed);
            return Err(OutOfGas { limit: self.limit, wanted });
        }
        self.consumed.store(wanted, Ordering::Relaxed);
        Ok(())
    }

    /// Charges `per_unit * units + flat`, saturating.
    pub fn charge_scaled(&self, flat: u64, per_unit: u64, units: usize) -> Result<(), OutOfGas> {
        let units = u64::try_from(units).unwrap_or(u64::MAX);
        self.charge(flat.saturating_add(per_unit.saturating_mul(units)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_up_to_limit_then_fails_and_pins() {
        let meter = GasMeter::new(100);
        assert!(meter.charge(60).is_ok());
        assert_eq!(meter.consumed(), 60);
        let err = meter.charge(41).unwrap_err();
        assert_eq!(err, OutOfGas { limit: 100, wanted: 101 });
        assert_eq!(meter.consumed(), 100);
    }

    #[test]
    fn infinite_meter_saturates_instead_of_overflowing() {
        let meter = GasMeter::infinite();
        meter.charge(u64::MAX - 1).unwrap();
        assert!(meter.charge_scaled(5, u64::MAX, 3).is_ok());
        assert_eq!(meter.consumed(), u64::MAX);
    }
}
