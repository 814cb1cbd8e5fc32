//! Microsoft Advertising delivers a report as a zip archive holding one CSV file.

use std::io::Read;

use bytes::Bytes;

/// The one file of a report archive. An archive with no file or several, or a file larger
/// than [`LARGEST_REPORT`] uncompressed (a zip bomb or a report to split by date), is
/// refused with the reason.
pub(crate) fn unzip_single_file(archive: &[u8]) -> Result<Bytes, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive))
        .map_err(|e| format!("the report download is not a readable zip archive: {e}"))?;
    let files: Vec<usize> = (0..zip.len())
        .filter(|&i| zip.by_index(i).is_ok_and(|f| f.is_file()))
        .collect();
    let [index] = files[..] else {
        return Err(format!(
            "the report archive holds {} files, expected one CSV",
            files.len()
        ));
    };
    let file = zip
        .by_index(index)
        .map_err(|e| format!("the report archive cannot be read: {e}"))?;
    let mut text = Vec::with_capacity(file.size().min(LARGEST_REPORT) as usize);
    file.take(LARGEST_REPORT + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("the report archive cannot be read: {e}"))?;
    if text.len() as u64 > LARGEST_REPORT {
        return Err(format!(
            "the report is larger than {} MiB uncompressed: pull a shorter range",
            LARGEST_REPORT >> 20
        ));
    }
    Ok(Bytes::from(text))
}

/// 1 GiB of CSV is months of a very large account's ad-level rows.
const LARGEST_REPORT: u64 = 1 << 30;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(body).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn reads_the_one_csv_and_refuses_other_archives() {
        let csv = b"\"TimePeriod\",\"Spend\"\r\n\"2026-11-01\",\"1.50\"\r\n";
        assert_eq!(
            unzip_single_file(&archive(&[("report.csv", csv)])).unwrap(),
            &csv[..]
        );
        assert!(
            unzip_single_file(&archive(&[]))
                .unwrap_err()
                .contains("0 files")
        );
        assert!(
            unzip_single_file(&archive(&[("a.csv", b"1"), ("b.csv", b"2")]))
                .unwrap_err()
                .contains("2 files")
        );
        assert!(unzip_single_file(b"PK\x03\x04 truncated").is_err());
    }
}
