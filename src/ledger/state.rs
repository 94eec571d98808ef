//! The ledger's states and the one pure function that moves a row between them.
//!
//! Every write the ledger makes goes through [`transition`], so the promises of
//! `design.md` ("never lost, never doubled") are checked in one place.

use std::fmt;
use std::str::FromStr;

/// Where one `externalUserId` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Invalid,
    Pending,
    InFlight,
    Created,
    Exists,
    Rejected,
    Failed,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Invalid,
        State::Pending,
        State::InFlight,
        State::Created,
        State::Exists,
        State::Rejected,
        State::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Invalid => "invalid",
            State::Pending => "pending",
            State::InFlight => "in_flight",
            State::Created => "created",
            State::Exists => "exists",
            State::Rejected => "rejected",
            State::Failed => "failed",
        }
    }

    /// Rows that count as done for the exit code: created now or earlier, or taken by someone else.
    pub fn is_done(self) -> bool {
        matches!(self, State::Created | State::Exists)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = State::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown state '{s}' (one of: {})", names.join(", "))
            })
    }
}

/// Something that happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Valid and queued to be sent.
    Planned,
    /// Failed local validation.
    FoundInvalid,
    /// About to send: the write-ahead mark.
    Sending,
    /// 201, or P411 after an unknown outcome of our own.
    Created,
    /// P411 with no earlier unknown outcome of ours.
    TakenBySomeoneElse,
    /// Permanent API rejection.
    Rejected,
    /// Transient trouble outlasted the retry budget.
    Failed,
    /// The API refused the key (401): the request did nothing.
    Refused,
}

/// The state after `event`, or `None` when the row must stay as it is.
///
/// `created` is absorbing: nothing moves a created row, so it is never sent again.
/// An invalid re-read never overwrites a row whose outcome is known or unknown
/// (`created`, `exists`, `in_flight`).
pub fn transition(current: Option<State>, event: Event) -> Option<State> {
    use State::*;
    if current == Some(Created) {
        return None;
    }
    let next = match event {
        Event::Planned => match current {
            None | Some(Invalid) | Some(Pending) => Pending,
            _ => return None,
        },
        Event::FoundInvalid => match current {
            None | Some(Invalid) | Some(Pending) | Some(Rejected) | Some(Failed) => Invalid,
            _ => return None,
        },
        Event::Sending => match current {
            Some(Exists) => return None,
            _ => InFlight,
        },
        Event::Created => Created,
        Event::TakenBySomeoneElse => Exists,
        Event::Rejected => Rejected,
        Event::Failed => Failed,
        Event::Refused => match current {
            Some(InFlight) => Pending,
            _ => return None,
        },
    };
    (current != Some(next)).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn transitions_follow_the_design_table() {
        use Event as E;
        use State::*;
        let table: &[(Option<State>, Event, Option<State>)] = &[
            (None, E::Planned, Some(Pending)),
            (Some(Invalid), E::Planned, Some(Pending)),
            (Some(Failed), E::Planned, None),
            (Some(InFlight), E::Planned, None),
            (None, E::FoundInvalid, Some(Invalid)),
            (Some(Rejected), E::FoundInvalid, Some(Invalid)),
            (Some(InFlight), E::FoundInvalid, None),
            (Some(Exists), E::FoundInvalid, None),
            (Some(Created), E::FoundInvalid, None),
            (Some(Pending), E::Sending, Some(InFlight)),
            (Some(Failed), E::Sending, Some(InFlight)),
            (Some(InFlight), E::Sending, None),
            (Some(Exists), E::Sending, None),
            (Some(Created), E::Sending, None),
            (Some(InFlight), E::Created, Some(Created)),
            (Some(InFlight), E::TakenBySomeoneElse, Some(Exists)),
            (Some(InFlight), E::Rejected, Some(Rejected)),
            (Some(InFlight), E::Failed, Some(Failed)),
            (Some(InFlight), E::Refused, Some(Pending)),
            (Some(Failed), E::Refused, None),
            (Some(Created), E::Failed, None),
            (Some(Created), E::TakenBySomeoneElse, None),
        ];
        for (current, event, want) in table {
            assert_eq!(
                transition(*current, *event),
                *want,
                "{current:?} + {event:?}"
            );
        }
    }

    #[test]
    fn state_names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        assert!("done".parse::<State>().is_err());
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::Planned),
            Just(Event::FoundInvalid),
            Just(Event::Sending),
            Just(Event::Created),
            Just(Event::TakenBySomeoneElse),
            Just(Event::Rejected),
            Just(Event::Failed),
            Just(Event::Refused),
        ]
    }

    proptest! {
        #[test]
        fn no_sequence_of_events_moves_a_created_row(events in proptest::collection::vec(any_event(), 0..40)) {
            let mut state = None;
            let mut created = false;
            for e in events {
                if let Some(next) = transition(state, e) {
                    prop_assert!(!created, "created row moved to {next:?} by {e:?}");
                    state = Some(next);
                }
                if state == Some(State::Created) {
                    created = true;
                    // A created row is never planned to be sent again.
                    prop_assert_eq!(transition(state, Event::Sending), None);
                }
            }
        }
    }
}
