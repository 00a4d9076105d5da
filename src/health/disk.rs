//! Free space on the data directory's filesystem, against the configured
//! minimum (`1GiB`, `5%`, or `1GiB or 5%`).

use std::path::Path;

use bytesize::ByteSize;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Minimum {
    Bytes(u64),
    Percent(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiskThreshold(Vec<Minimum>);

/// Free and total bytes of a filesystem, as an unprivileged user sees them.
#[derive(Debug, Clone, Copy)]
pub struct DiskSpace {
    pub free: u64,
    pub total: u64,
}

impl DiskThreshold {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut minimums = Vec::new();
        for part in text.split(" or ").map(str::trim) {
            let minimum = match part.strip_suffix('%') {
                Some(pct) => match pct.trim().parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => Minimum::Percent(p),
                    _ => {
                        return Err(format!(
                            "{part:?} is not a percentage between 0% and 100%, e.g. 5%"
                        ));
                    }
                },
                None => match part.parse::<ByteSize>() {
                    Ok(size) => Minimum::Bytes(size.as_u64()),
                    Err(_) => {
                        return Err(format!(
                            "{part:?} is not a size or a percentage, e.g. \"1GiB or 5%\""
                        ));
                    }
                },
            };
            minimums.push(minimum);
        }
        Ok(DiskThreshold(minimums))
    }

    /// Healthy while any of the minimums is met.
    pub fn is_met(&self, space: DiskSpace) -> bool {
        self.0.iter().any(|m| match *m {
            Minimum::Bytes(bytes) => space.free > bytes,
            Minimum::Percent(pct) => {
                space.total > 0 && (space.free as f64) * 100.0 / (space.total as f64) > pct
            }
        })
    }
}

pub fn space_of(path: &Path) -> std::io::Result<DiskSpace> {
    let stat = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
    let unit = stat.fragment_size() as u64;
    Ok(DiskSpace {
        free: (stat.blocks_available() as u64).saturating_mul(unit),
        total: (stat.blocks() as u64).saturating_mul(unit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn either_minimum_keeps_the_disk_healthy() {
        let t = DiskThreshold::parse("1GiB or 5%").unwrap();
        assert!(
            t.is_met(DiskSpace {
                free: 2 * GIB,
                total: 1000 * GIB
            }),
            "over 1 GiB free"
        );
        assert!(
            t.is_met(DiskSpace {
                free: GIB / 2,
                total: 4 * GIB
            }),
            "12.5% free on a small disk"
        );
        assert!(
            !t.is_met(DiskSpace {
                free: GIB / 2,
                total: 100 * GIB
            }),
            "0.5% and under 1 GiB"
        );
    }

    #[test]
    fn bad_thresholds_say_what_is_expected() {
        assert!(DiskThreshold::parse("lots").unwrap_err().contains("e.g."));
        assert!(DiskThreshold::parse("150%").is_err());
        assert!(DiskThreshold::parse("100%").is_ok());
        assert_eq!(
            DiskThreshold::parse("500 MB").unwrap(),
            DiskThreshold(vec![Minimum::Bytes(500_000_000)])
        );
    }
}
