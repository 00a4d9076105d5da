//! The firewall hooks: `threats.on_ban_command` and `on_unban_command` run
//! as a program with arguments — never through a shell — with the banned
//! address as one argument of its own, so no address text (even a hostile
//! one) can add arguments or commands. A command still running after the
//! timeout is killed. Its exit status and output (capped) are logged.

use std::time::Duration;

use tokio::process::Command;

use super::model::Target;

/// Output kept in the log, per stream.
const MAX_OUTPUT: usize = 1_024;

#[derive(Debug, Clone)]
pub struct Commands {
    pub on_ban: Vec<String>,
    pub on_unban: Vec<String>,
    pub timeout: Duration,
}

/// The argument vector: `{ip}` and `{seconds}` arguments replaced whole; the
/// address appended when no argument is `{ip}`.
pub fn argv(template: &[String], ip: &str, seconds: i64) -> Vec<String> {
    let mut out: Vec<String> = template
        .iter()
        .map(|a| match a.as_str() {
            "{ip}" => ip.to_owned(),
            "{seconds}" => seconds.max(1).to_string(),
            _ => a.clone(),
        })
        .collect();
    if !template.iter().any(|a| a == "{ip}") {
        out.push(ip.to_owned());
    }
    out
}

impl Commands {
    pub fn ban(&self, target: Target, seconds: i64) {
        self.spawn(&self.on_ban, "on_ban_command", target, seconds);
    }

    pub fn unban(&self, target: Target) {
        self.spawn(&self.on_unban, "on_unban_command", target, 0);
    }

    fn spawn(&self, template: &[String], key: &'static str, target: Target, seconds: i64) {
        if template.is_empty() {
            return;
        }
        let argv = argv(template, &target.to_string(), seconds);
        let timeout = self.timeout;
        tokio::spawn(async move {
            run(&argv, timeout, key).await;
        });
    }
}

/// Runs one command to its end or its timeout, and logs how it went.
pub async fn run(argv: &[String], timeout: Duration, key: &str) -> Option<i32> {
    let (program, args) = argv.split_first()?;
    let child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(timeout, child).await {
        Err(_) => {
            tracing::warn!(command = key, program = %program, "the command ran past its timeout and was killed");
            None
        }
        Ok(Err(e)) => {
            tracing::warn!(command = key, program = %program, error = %e, "the command could not be started; check the path and permissions");
            None
        }
        Ok(Ok(out)) => {
            let cap = |b: &[u8]| {
                let text = String::from_utf8_lossy(&b[..b.len().min(MAX_OUTPUT)]);
                text.trim().to_owned()
            };
            let code = out.status.code();
            if out.status.success() {
                tracing::info!(command = key, program = %program, stdout = %cap(&out.stdout), "the command succeeded");
            } else {
                tracing::warn!(command = key, program = %program, status = ?code, stderr = %cap(&out.stderr), "the command failed");
            }
            code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_address_is_one_argument_in_place_or_appended() {
        let nft = strings(&[
            "/usr/sbin/nft",
            "add",
            "element",
            "inet",
            "filter",
            "watchpost",
            "{",
            "{ip}",
            "timeout",
            "{seconds}s",
            "}",
        ]);
        let got = argv(&nft, "203.0.113.5", 14_400);
        assert_eq!(got[7], "203.0.113.5");
        assert_eq!(got[9], "{seconds}s", "only whole arguments are replaced");
        let ipset = strings(&["/usr/sbin/ipset", "add", "-exist", "watchpost"]);
        assert_eq!(
            argv(&ipset, "2001:db8::1", 60).last().unwrap(),
            "2001:db8::1"
        );
    }

    #[tokio::test]
    async fn a_hostile_address_string_stays_one_argument() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args");
        let script = dir.path().join("record.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$#\" \"$@\" > {}\n",
                out.display()
            ),
        )
        .unwrap();
        let hostile = "1.2.3.4; touch /tmp/pwned $(id) `id` && echo";
        let argv = argv(
            &strings(&["/bin/sh", &script.to_string_lossy(), "{ip}"]),
            hostile,
            1,
        );
        assert_eq!(run(&argv, Duration::from_secs(5), "test").await, Some(0));
        let recorded = std::fs::read_to_string(&out).unwrap();
        assert_eq!(recorded, format!("1\n{hostile}\n"));
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed_and_a_missing_one_reported() {
        let slow = strings(&["/bin/sleep", "30"]);
        assert_eq!(run(&slow, Duration::from_millis(100), "test").await, None);
        let missing = strings(&["/nonexistent/firewall"]);
        assert_eq!(run(&missing, Duration::from_secs(1), "test").await, None);
        assert_eq!(
            run(&strings(&["/bin/false"]), Duration::from_secs(5), "test").await,
            Some(1)
        );
    }
}
