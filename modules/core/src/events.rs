//! Typed events. Modules define one struct per event kind and implement [`TypedEvent`]; the app
//! turns them into ABCI events whose attributes are all indexed (`index: true`), so CometBFT's
//! `kv` indexer can answer `tx_search` queries such as `message.sender='open1…'`.

use tendermint_proto::v0_38::abci;

/// An event as emitted by a module: a kind and ordered string attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Event type, e.g. `transfer`.
    pub kind: String,
    /// Ordered `(key, value)` attributes.
    pub attributes: Vec<(String, String)>,
}

impl Event {
    /// A new event with no attributes.
    pub fn new(kind: impl Into<String>) -> Self {
        Self { kind: kind.into(), attributes: Vec::new() }
    }

    /// Adds an attribute (builder style).
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }

    /// Value of the first attribute named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The ABCI form, every attribute indexed.
    pub fn to_abci(&self) -> abci::Event {
        abci::Event {
            r#type: self.kind.clone(),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| abci::EventAttribute { key: k.clone(), value: v.clone(), index: true })
                .collect(),
        }
    }
}

/// A module's typed event: a Rust struct with a fixed kind and attribute set.
pub trait TypedEvent {
    /// Converts into the generic event form.
    fn into_event(self) -> Event;
}

impl TypedEvent for Event {
    fn into_event(self) -> Event {
        self
    }
}

/// An attribute value of a typed event: strings move in, numbers and decimals are written in
/// decimal.
pub trait AttrValue {
    /// The attribute's text.
    fn into_attr(self) -> String;
}

impl AttrValue for String {
    fn into_attr(self) -> String {
        self
    }
}

impl AttrValue for &str {
    fn into_attr(self) -> String {
        self.to_string()
    }
}

macro_rules! display_attr {
    ($($t:ty),*) => {
        $(impl AttrValue for $t {
            fn into_attr(self) -> String {
                self.to_string()
            }
        })*
    };
}

display_attr!(u32, u64, u128, i32, i64, bool, crate::Dec);

/// Declares typed events: for each, a struct whose fields are the event's attributes in order,
/// and its [`TypedEvent`] impl. An attribute's value is its field's `to_string()`, or the
/// expression after `=>` (which sees every field by name):
///
/// ```ignore
/// typed_events! {
///     /// Rewards paid to a delegator.
///     RewardsWithdrawn = "withdraw_rewards" {
///         /// uopen paid.
///         amount: u128 => format!("{amount}uopen"),
///         /// Operator address.
///         validator: String,
///     }
/// }
/// ```
#[macro_export]
macro_rules! typed_events {
    ($(
        $(#[$doc:meta])*
        $name:ident = $kind:literal {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty $(=> $value:expr)? ),* $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone)]
            pub struct $name {
                $( $(#[$fdoc])* pub $field: $ty, )*
            }

            impl $crate::TypedEvent for $name {
                fn into_event(self) -> $crate::Event {
                    let Self { $($field),* } = self;
                    $crate::Event::new($kind) $( .attr(stringify!($field), $crate::typed_events!(@value $field $(, $value)?)) )*
                }
            }
        )*
    };
    (@value $field:ident) => {
        $crate::events::AttrValue::into_attr($field)
    };
    (@value $field:ident, $value:expr) => {
        $value
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abci_form_indexes_every_attribute_in_order() {
        let ev = Event::new("transfer").attr("sender", "a").attr("amount", "1uopen");
        let abci = ev.to_abci();
        assert_eq!(abci.r#type, "transfer");
        assert_eq!(abci.attributes.len(), 2);
        assert!(abci.attributes.iter().all(|a| a.index));
        assert_eq!(abci.attributes[1].value, "1uopen");
        assert_eq!(ev.get("sender"), Some("a"));
        assert_eq!(ev.get("missing"), None);
    }
}
