# image/efi/: the ESP loader, \EFI\BOOT\BOOTX64.EFI (gnu-efi).
# Neither a guest ELF nor a host tool: a PE32+ EFI application, compiled
# freestanding with the host gcc and the gnu-efi runtime, linked as a shared
# ELF and converted to PE by objcopy (Debian's gnu-efi recipe).
# make-esp.sh puts it on a FAT image with \kernel, \initrd.img and \cmdline.

EFI_CC ?= $(HOST_CC)
EFI_LD ?= ld
EFI_OBJCOPY ?= objcopy
EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
EFI_LDS := $(EFI_LIB)/elf_x86_64_efi.lds
EFI_CRT0 := $(EFI_LIB)/crt0-efi-x86_64.o

# GNU_EFI_USE_MS_ABI: call firmware services directly (ms_abi), without
# gnu-efi's efi_call wrappers.  No red zone and no stack protector: firmware
# interrupts run on our stack and there is no TLS canary.
EFI_CFLAGS := -std=gnu11 -Wall -Wextra $(WERROR) -Os \
	-I$(EFI_INC) -I$(EFI_INC)/x86_64 -DGNU_EFI_USE_MS_ABI \
	-ffreestanding -fpic -fshort-wchar -fno-stack-protector \
	-fno-strict-aliasing -mno-red-zone -maccumulate-outgoing-args \
	-fno-asynchronous-unwind-tables
EFI_LDFLAGS := -nostdlib -znocombreloc -shared -Bsymbolic --build-id=none \
	-T $(EFI_LDS)
# Sections the PE image keeps (the lds folds .bss into .data).
EFI_SECTIONS := -j .text -j .sdata -j .data -j .dynamic -j .dynsym \
	-j .rel -j .rela -j '.rel.*' -j '.rela.*' -j .reloc

$(B)/efi/%.o: image/efi/%.c
	@mkdir -p $(@D)
	@echo "  CC [efi]   $<"
	@$(EFI_CC) $(EFI_CFLAGS) -MMD -MP -c $< -o $@

$(B)/efi/loader.so: $(B)/efi/loader.o $(EFI_CRT0) $(EFI_LDS)
	@echo "  LD [efi]   $@"
	@$(EFI_LD) $(EFI_LDFLAGS) $(EFI_CRT0) $(B)/efi/loader.o -o $@ \
		-L$(EFI_LIB) -lefi -lgnuefi

$(B)/efi/BOOTX64.EFI: $(B)/efi/loader.so
	@echo "  PE [efi]   $@"
	@$(EFI_OBJCOPY) $(EFI_SECTIONS) --target efi-app-x86_64 \
		--subsystem=10 $< $@.tmp
	@mv -f $@.tmp $@

EFI_BINS := $(B)/efi/BOOTX64.EFI
GUEST_BINS += $(EFI_BINS)

# Host unit test of the loader's pure parts: loader.c compiled for the host
# against the gnu-efi headers (types only; the library calls are stubbed).
$(B_HOST)/image/efi/tests/%.o: EXTRA_CFLAGS += -I$(EFI_INC) -I$(EFI_INC)/x86_64 \
	-DGNU_EFI_USE_MS_ABI -fshort-wchar

$(B_HOST)/tests/image/efi/loader_test: $(B_HOST)/image/efi/tests/loader_test.o
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^

UNIT_TESTS += $(B_HOST)/tests/image/efi/loader_test
