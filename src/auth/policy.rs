//! The password policy, in the spirit of NIST SP 800-63B-4: a length range
//! counted in characters (12 to 256 by default; 15 for accounts without a
//! second factor), no composition rules, no truncation, and a refusal with a
//! reason a person can act on when the password is common, guessable, or
//! about the account or this product.
//!
//! The blocklist of common passwords is not a hand-written list: it is the
//! 30,000-entry password frequency list that the `zxcvbn` crate ships in the
//! binary. A password is "common" when, lower-cased and with leading and
//! trailing digits, punctuation and spaces stripped (so `Password2024!`
//! counts as `password`), zxcvbn recognises it as one entry of that list.
//! Everything else zxcvbn must score at least 3 of 4, with the account's
//! email and "watchpost" as words it knows.
//!
//! This module must never log or keep a password, and never refuse one for
//! lacking digits, symbols or capitals.

use std::fmt;

use zxcvbn::Score;
use zxcvbn::feedback::Warning;

/// Minimum length when the account has a second factor (or by default).
pub const MIN_CHARS_WITH_2FA: usize = 12;
/// Minimum length when the password is the account's only factor.
pub const MIN_CHARS_WITHOUT_2FA: usize = 15;
/// Maximum length: long enough for any passphrase, short enough to bound
/// the work of hashing.
pub const MAX_CHARS: usize = 256;
/// The product name, which attackers try first against its own logins.
const PRODUCT: &str = "watchpost";
/// A local part shorter than this (`al@…`) is too common a substring to ban.
const MIN_LOCAL_PART_CHARS: usize = 3;

/// Why a password was refused. `Display` says why and what to do instead,
/// ready to show next to the password field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// Contains "watchpost", in any case.
    NamesTheProduct,
    /// Contains the account's email address or the part before the `@`.
    ContainsEmail,
    /// One of the most common passwords, give or take digits and symbols at
    /// its ends.
    Common,
    /// zxcvbn scores it below 3; `warning` is its explanation, if it has one.
    TooGuessable {
        warning: Option<String>,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooShort { min } => write!(
                f,
                "Use at least {min} characters; a few unrelated words make a strong, memorable passphrase."
            ),
            Rejection::TooLong { max } => write!(
                f,
                "Use at most {max} characters; a few unrelated words are plenty."
            ),
            Rejection::NamesTheProduct => f.write_str(
                "Don't use \"watchpost\" in your password: it is the first word anyone guessing would try here. Choose words that have nothing to do with this site.",
            ),
            Rejection::ContainsEmail => f.write_str(
                "Don't use your email address or its name part in your password: it is known to anyone who knows you. Choose words that have nothing to do with you.",
            ),
            Rejection::Common => f.write_str(
                "This is one of the most common passwords, and adding digits or symbols to it does not help. Choose a few unrelated words instead.",
            ),
            Rejection::TooGuessable { warning } => {
                f.write_str("This password is too easy to guess")?;
                if let Some(w) = warning {
                    write!(f, " ({})", w.trim_end_matches('.'))?;
                }
                f.write_str(". Add another word or two; uncommon, unrelated words are best.")
            }
        }
    }
}

/// The length bounds; the content rules are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub min_chars: usize,
    pub max_chars: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_chars: MIN_CHARS_WITH_2FA,
            max_chars: MAX_CHARS,
        }
    }
}

impl Policy {
    /// The policy for an account: 12 characters with 2FA, 15 without (the
    /// baseline's rule for single-factor accounts).
    pub fn for_account(has_2fa: bool) -> Policy {
        Policy {
            min_chars: if has_2fa {
                MIN_CHARS_WITH_2FA
            } else {
                MIN_CHARS_WITHOUT_2FA
            },
            ..Policy::default()
        }
    }

    /// Accepts `password` for the account `email`, or says why not. Checks
    /// run cheapest first; the first failing one is the reason given.
    pub fn check(&self, password: &str, email: &str) -> Result<(), Rejection> {
        let chars = password.chars().count();
        if chars < self.min_chars {
            return Err(Rejection::TooShort {
                min: self.min_chars,
            });
        }
        if chars > self.max_chars {
            return Err(Rejection::TooLong {
                max: self.max_chars,
            });
        }
        let lower = password.to_lowercase();
        if lower.contains(PRODUCT) {
            return Err(Rejection::NamesTheProduct);
        }
        let email = email.trim().to_lowercase();
        let local = email.split('@').next().unwrap_or_default();
        if (!email.is_empty() && lower.contains(&email))
            || (local.chars().count() >= MIN_LOCAL_PART_CHARS && lower.contains(local))
        {
            return Err(Rejection::ContainsEmail);
        }
        if is_common(&lower) {
            return Err(Rejection::Common);
        }
        let estimate = zxcvbn::zxcvbn(password, &[email.as_str(), local, PRODUCT]);
        if estimate.score() < Score::Three {
            return Err(Rejection::TooGuessable {
                warning: estimate
                    .feedback()
                    .and_then(|f| f.warning())
                    .map(|w| w.to_string()),
            });
        }
        Ok(())
    }
}

/// Whether `lower` (already lower-cased), or its core without leading and
/// trailing digits, punctuation and spaces, is one entry of zxcvbn's list of
/// common passwords. zxcvbn says so with a "top-10", "top-100" or "very
/// common password" warning, which it gives exactly when the whole input is
/// one unaltered entry of that list.
fn is_common(lower: &str) -> bool {
    let core = lower.trim_matches(|c: char| {
        c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace()
    });
    [lower, core]
        .into_iter()
        .filter(|s| !s.is_empty())
        .any(|candidate| {
            let warning = zxcvbn::zxcvbn(candidate, &[])
                .feedback()
                .and_then(|f| f.warning());
            matches!(
                warning,
                Some(
                    Warning::ThisIsATop10Password
                        | Warning::ThisIsATop100Password
                        | Warning::ThisIsACommonPassword
                )
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const EMAIL: &str = "alice.smith@example.com";

    fn check(password: &str) -> Result<(), Rejection> {
        Policy::default().check(password, EMAIL)
    }

    #[test]
    fn eleven_characters_are_too_short_and_say_what_to_do() {
        let err = check("kx9#vb2!qmz").unwrap_err();
        assert_eq!(err, Rejection::TooShort { min: 12 });
        assert_eq!(
            err.to_string(),
            "Use at least 12 characters; a few unrelated words make a strong, memorable passphrase."
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 11 characters, 44 bytes.
        assert_eq!(
            check("🐎🐎🐎🐎🐎🐎🐎🐎🐎🐎🐎"),
            Err(Rejection::TooShort { min: 12 })
        );
    }

    #[test]
    fn a_long_passphrase_with_spaces_and_emoji_is_accepted() {
        let phrase = "correct horse 🐎 battery staple on the moon";
        assert!(phrase.chars().count() >= 40, "{}", phrase.chars().count());
        assert_eq!(check(phrase), Ok(()));
    }

    #[test]
    fn a_strong_password_without_symbols_or_capitals_is_accepted() {
        assert_eq!(check("plinth marmalade orbit gusto"), Ok(()));
    }

    #[test]
    fn the_maximum_is_accepted_and_one_more_is_refused() {
        let long: String = "quiet velvet lantern 42 "
            .chars()
            .cycle()
            .take(256)
            .collect();
        assert_eq!(check(&long), Ok(()));
        let longer: String = "quiet velvet lantern 42 "
            .chars()
            .cycle()
            .take(257)
            .collect();
        let err = check(&longer).unwrap_err();
        assert_eq!(err, Rejection::TooLong { max: 256 });
        assert!(err.to_string().contains("at most 256"));
    }

    #[test]
    fn accounts_without_2fa_need_15_characters() {
        let policy = Policy::for_account(false);
        assert_eq!(
            policy.check("plinth orbit!", EMAIL),
            Err(Rejection::TooShort { min: 15 })
        );
        assert_eq!(policy.check("plinth marmalade orbit", EMAIL), Ok(()));
        assert_eq!(Policy::for_account(true), Policy::default());
    }

    #[test]
    fn common_passwords_are_refused_even_with_digits_and_symbols() {
        for p in [
            "password1234",
            "Password2024!",
            "PASSWORD123456",
            "qwertyuiop123",
            "!!iloveyou2024!!",
            "1234567890123",
        ] {
            let err = check(p).unwrap_err();
            assert!(
                matches!(err, Rejection::Common | Rejection::TooGuessable { .. }),
                "{p}: {err:?}"
            );
        }
        let err = check("password1234").unwrap_err();
        assert_eq!(err, Rejection::Common);
        assert!(err.to_string().contains("most common passwords"));
        assert_eq!(check("Password2024!"), Err(Rejection::Common));
    }

    #[test]
    fn the_accounts_own_email_is_refused() {
        let err = check(EMAIL).unwrap_err();
        assert_eq!(err, Rejection::ContainsEmail);
        assert!(err.to_string().contains("email"));
        assert_eq!(
            check("ALICE.SMITH@EXAMPLE.COM"),
            Err(Rejection::ContainsEmail)
        );
    }

    #[test]
    fn a_password_containing_the_email_local_part_is_refused() {
        assert_eq!(
            check("plinth Alice.Smith orbit"),
            Err(Rejection::ContainsEmail)
        );
    }

    #[test]
    fn a_local_part_shorter_than_three_characters_is_not_banned() {
        let policy = Policy::default();
        assert_eq!(
            policy.check("plinth marmalade al orbit", "al@example.com"),
            Ok(())
        );
        assert_eq!(
            policy.check("al@example.com plinth orbit", "al@example.com"),
            Err(Rejection::ContainsEmail)
        );
    }

    #[test]
    fn watchpost_is_refused_with_a_reason_naming_it() {
        for p in ["watchpost2026", "My WatchPost password is long"] {
            let err = check(p).unwrap_err();
            assert_eq!(err, Rejection::NamesTheProduct, "{p}");
            assert!(err.to_string().contains("watchpost"));
        }
    }

    #[test]
    fn guessable_passwords_get_zxcvbn_s_explanation() {
        let err = check("qwertyuiopasdfgh").unwrap_err();
        let Rejection::TooGuessable { warning } = &err else {
            panic!("{err:?}");
        };
        assert!(warning.is_some(), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("This password is too easy to guess ("),
            "{err}"
        );
        assert!(err.to_string().contains("Add another word"), "{err}");
        assert!(matches!(
            check("aaaaaaaaaaaaaaaa"),
            Err(Rejection::TooGuessable { .. })
        ));
    }
}
