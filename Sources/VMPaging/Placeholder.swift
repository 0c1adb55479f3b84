import VMPhys
