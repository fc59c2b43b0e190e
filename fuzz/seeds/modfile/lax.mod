// Deprecated: use example.com/m/v2 instead.
module example.com/m

go 1.21

toolchain go1.22.1

require (
	example.com/a v1.2.3
	example.com/b/v2 v2.0.0-20200101000000-abcdefabcdef // indirect
	"example.com/c" v1.0.0+incompatible
)

exclude example.com/a v1.2.2

replace example.com/a => ../a

retract (
	// Published by mistake.
	v1.0.1
	[v1.1.0, v1.1.9] // broken
)

ignore ./testdata
