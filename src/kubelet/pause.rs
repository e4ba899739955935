//! Skiff's own pause image: a static x86_64 ELF of a few hundred bytes, written here byte by
//! byte, that exits on SIGTERM/SIGINT and otherwise waits in `pause()` forever. It is packed
//! into an in-memory tar and imported into Docker as [`PAUSE_IMAGE`] — no registry, no pull.

use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;

use super::KubeletError;

/// The sandbox image every pod's network namespace lives in.
pub const PAUSE_IMAGE: &str = "skiff/pause:1";
/// Path of the pause program inside the image.
pub const PAUSE_PATH: &str = "/pause";

/// Where the program is loaded (the classic static-binary base address).
const BASE: u64 = 0x40_0000;
/// ELF header (64) + one program header (56).
const HEADERS: usize = 120;

/// The pause program: a static x86_64 Linux ELF executable.
///
/// ```text
/// _start: rt_sigaction(SIGTERM, &act, NULL, 8); rt_sigaction(SIGINT, &act, NULL, 8)
/// loop:   pause(); jmp loop
/// exit:   exit_group(0)                       ; act.handler = exit (SA_RESTORER set)
/// ```
pub fn pause_elf() -> Vec<u8> {
    let mut code: Vec<u8> = Vec::new();
    // Positions of the two `lea rsi, [rip+act]` displacements, patched once `act` is placed.
    let mut lea_fixups = Vec::new();
    for signal in [15u8, 2u8] {
        code.extend_from_slice(&[0xb8, 13, 0, 0, 0]); // mov eax, 13 (rt_sigaction)
        code.extend_from_slice(&[0xbf, signal, 0, 0, 0]); // mov edi, signal
        code.extend_from_slice(&[0x48, 0x8d, 0x35]); // lea rsi, [rip+disp32]
        lea_fixups.push(code.len());
        code.extend_from_slice(&[0, 0, 0, 0]);
        code.extend_from_slice(&[0x31, 0xd2]); // xor edx, edx
        code.extend_from_slice(&[0x41, 0xba, 8, 0, 0, 0]); // mov r10d, 8 (sigset size)
        code.extend_from_slice(&[0x0f, 0x05]); // syscall
    }
    code.extend_from_slice(&[0xb8, 34, 0, 0, 0]); // loop: mov eax, 34 (pause)
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    code.extend_from_slice(&[0xeb, 0xf7]); // jmp loop (-9)
    let handler = code.len();
    code.extend_from_slice(&[0xb8, 231, 0, 0, 0]); // mov eax, 231 (exit_group)
    code.extend_from_slice(&[0x31, 0xff]); // xor edi, edi
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    while !code.len().is_multiple_of(8) {
        code.push(0x90);
    }
    let act = code.len();
    let handler_addr = BASE + (HEADERS + handler) as u64;
    const SA_RESTORER: u64 = 0x0400_0000;
    // struct kernel_sigaction { handler, flags, restorer, mask }
    for word in [handler_addr, SA_RESTORER, handler_addr, 0] {
        code.extend_from_slice(&word.to_le_bytes());
    }
    for at in lea_fixups {
        let next = at + 4; // rip after the lea
        let disp = (act as i64 - next as i64) as i32;
        code[at..at + 4].copy_from_slice(&disp.to_le_bytes());
    }

    let size = (HEADERS + code.len()) as u64;
    let mut elf = Vec::with_capacity(size as usize);
    // e_ident: magic, 64-bit, little endian, version 1, System V ABI, padding.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type: EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // e_machine: x86-64
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&(BASE + HEADERS as u64).to_le_bytes()); // e_entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    elf.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    elf.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    elf.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    elf.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
                                                // Program header: one PT_LOAD, read + execute, the whole file.
    elf.extend_from_slice(&1u32.to_le_bytes()); // p_type: LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // p_flags: R+X
    elf.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    elf.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    elf.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    elf.extend_from_slice(&size.to_le_bytes()); // p_filesz
    elf.extend_from_slice(&size.to_le_bytes()); // p_memsz
    elf.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    debug_assert_eq!(elf.len(), HEADERS);
    elf.extend_from_slice(&code);
    elf
}

/// The image's root file system as a tar: `/pause` (0755) and an empty `/etc` (Docker bind
/// mounts `hosts`, `hostname` and `resolv.conf` there).
pub fn pause_tar() -> std::io::Result<Vec<u8>> {
    let elf = pause_elf();
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    dir.set_mtime(0);
    dir.set_cksum();
    builder.append_data(&mut dir, "etc/", std::io::empty())?;
    let mut file = tar::Header::new_gnu();
    file.set_entry_type(tar::EntryType::Regular);
    file.set_mode(0o755);
    file.set_size(elf.len() as u64);
    file.set_mtime(0);
    file.set_cksum();
    builder.append_data(
        &mut file,
        PAUSE_PATH.trim_start_matches('/'),
        elf.as_slice(),
    )?;
    builder.into_inner()
}

/// Imports [`PAUSE_IMAGE`] into Docker unless it is there already.
pub async fn ensure_image(docker: &Docker) -> Result<(), KubeletError> {
    if docker.inspect_image(PAUSE_IMAGE).await.is_ok() {
        return Ok(());
    }
    if std::env::consts::ARCH != "x86_64" {
        return Err(KubeletError::Unsupported(format!(
            "the pause image is only built for x86_64, not {}",
            std::env::consts::ARCH
        )));
    }
    let tar = pause_tar().map_err(|e| KubeletError::Unsupported(format!("pause tar: {e}")))?;
    let (repo, tag) = PAUSE_IMAGE
        .split_once(':')
        .unwrap_or((PAUSE_IMAGE, "latest"));
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .build();
    let mut progress = docker.create_image(
        Some(options),
        Some(bollard::body_full(bytes::Bytes::from(tar))),
        None,
    );
    while let Some(step) = progress.next().await {
        step?;
    }
    tracing::info!(image = PAUSE_IMAGE, "imported the pause image");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_header_is_well_formed() {
        let elf = pause_elf();
        assert_eq!(&elf[..4], b"\x7fELF");
        assert_eq!(elf[4], 2, "64-bit");
        assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 0x3e, "x86-64");
        let entry = u64::from_le_bytes(elf[24..32].try_into().unwrap());
        assert_eq!(entry, BASE + HEADERS as u64);
        let filesz = u64::from_le_bytes(elf[96..104].try_into().unwrap());
        assert_eq!(filesz as usize, elf.len());
        assert!(elf.len() < 512, "pause stays tiny: {} bytes", elf.len());
        // The sigaction's handler points at `mov eax, 231` inside the file.
        let act = elf.len() - 32;
        let handler = u64::from_le_bytes(elf[act..act + 8].try_into().unwrap());
        let off = (handler - BASE) as usize;
        assert_eq!(&elf[off..off + 2], &[0xb8, 231]);
    }

    #[test]
    fn tar_holds_the_executable() {
        let tar = pause_tar().unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut found = false;
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_str() == Some("pause") {
                assert_eq!(entry.header().mode().unwrap(), 0o755);
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut body).unwrap();
                assert_eq!(body, pause_elf());
                found = true;
            }
        }
        assert!(found);
    }

    /// Runs the program for real: it keeps running, and SIGTERM ends it with status 0.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn pause_runs_until_sigterm() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pause");
        std::fs::write(&path, pause_elf()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&path).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "pause exited early");
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0));
    }
}
