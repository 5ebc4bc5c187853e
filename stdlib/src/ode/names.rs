//! How messages name a state element or an event: by the system's names when it has them
//! (`` `u[3]` ``, `` the event `h < 0` ``), else by number.

use super::OdeSystem;

/// `` `u[3]` ``, or "component 3".
pub(crate) fn state(system: &dyn OdeSystem, i: usize) -> String {
    match system.state_name(i) {
        Some(name) => format!("`{name}`"),
        None => format!("component {i}"),
    }
}

/// `` the event `h < 0` ``, or "event 3".
pub(crate) fn event(system: &dyn OdeSystem, k: usize) -> String {
    match system.event_name(k) {
        Some(name) => format!("the event `{name}`"),
        None => format!("event {k}"),
    }
}

/// [`event`] for every event of the system.
pub(crate) fn events(system: &dyn OdeSystem) -> Vec<String> {
    (0..system.events().len())
        .map(|k| event(system, k))
        .collect()
}

/// A message's first word capitalised: "The event `h < 0` …", "Event 3 …".
pub(crate) fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
